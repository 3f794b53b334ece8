"""Ledger operations. Each is one short transaction; claims are conditional UPDATEs, so two presses,
two people or two replicas can never both win."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ledger._records import RETRYABLE, NewSend, RateLimited, Report, SendRecord, SendStatus
from bot.ledger._replies import RepliesMixin
from bot.ledger._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    deliveries,
    engine_for,
    events,
    incoming,
    instances,
    metadata,
    schema_version,
    sends,
    threads,
)

RESTARTED_BEFORE = "the bot restarted before sending it, so nothing was sent"
RESTARTED_WHILE = "the bot restarted while sending"
DEAD_AFTER_SECONDS = 20.0  # a process silent this long is presumed gone
WINDOW = timedelta(seconds=60)
UNDELIVERED = ("failed", "undelivered")
# Later statuses outrank earlier ones: a delivered message never goes back to sent, and a failure
# reported after delivered or read is a regression, ignored.
STATUS_RANK = {
    "queued": 1,
    "accepted": 1,
    "sending": 2,
    "sent": 3,
    "failed": 4,
    "undelivered": 4,
    "delivered": 5,
    "read": 6,
}


def now() -> datetime:
    """Naive UTC: stored the same way in SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def _record(row: Any) -> SendRecord:
    media = json.loads(row.media or "{}")
    return SendRecord(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        team_id=row.team_id,
        user_id=row.user_id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        summary_ts=row.summary_ts,
        provider=row.provider,
        channel_key=row.channel_key,
        recipient=row.recipient,
        name=row.name,
        text=row.text,
        image_urls=tuple(media.get("image_urls") or ()),
        file_url=media.get("file_url"),
        status=SendStatus(row.status),
        message_id=row.message_id,
        error=row.error,
        http_status=row.http_status,
        attempts=row.attempts,
        via=row.via,
        retried_by=row.retried_by,
        delivery_status=row.delivery_status,
        delivery_error=row.delivery_error,
    )


class Ledger(RepliesMixin):
    def __init__(self, engine: AsyncEngine, dead_after: float = DEAD_AFTER_SECONDS) -> None:
        self._engine = engine
        self.dead_after = dead_after
        self._postgres = engine.dialect.name == "postgresql"
        self.instance_id = uuid.uuid4().hex
        self._heartbeat: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, dead_after: float = DEAD_AFTER_SECONDS) -> Ledger:
        """Connect, create or upgrade the schema, and register this process as alive.

        A process that has not beaten for `dead_after` seconds is presumed gone, and its unfinished
        sends are recovered by whichever process sweeps next.
        """
        ledger = cls(engine_for(url), dead_after)
        await ledger._migrate()
        async with ledger._engine.begin() as conn:
            stamp = now()
            await conn.execute(insert(instances).values(id=ledger.instance_id, started_at=stamp, heartbeat_at=stamp))
        return ledger

    async def _migrate(self) -> None:
        async with self._engine.begin() as conn:
            if self._postgres:  # replicas starting together must not race on CREATE TABLE
                await conn.execute(text("SELECT pg_advisory_xact_lock(774411)"))
            existed = await conn.run_sync(lambda sync: sa_inspect(sync).has_table("sends"))
            await conn.run_sync(metadata.create_all)
            current = (await conn.execute(select(func.max(schema_version.c.version)))).scalar()
            if current is None:
                await conn.execute(insert(schema_version).values(version=SCHEMA_VERSION if not existed else 1))
                current = SCHEMA_VERSION if not existed else 1
            if current > SCHEMA_VERSION:
                raise RuntimeError(f"the ledger's schema is version {current}, newer than this bot ({SCHEMA_VERSION})")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement, dialects in MIGRATIONS.get(version, []):
                    if dialects is None or self._engine.dialect.name in dialects:
                        await conn.execute(text(statement))
                await conn.execute(update(schema_version).values(version=version))

    def start_heartbeat(self) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.dead_after / 4)
                with contextlib.suppress(Exception):
                    async with self._engine.begin() as conn:
                        await conn.execute(
                            update(instances).where(instances.c.id == self.instance_id).values(heartbeat_at=now())
                        )

        self._heartbeat = asyncio.get_running_loop().create_task(beat(), name="ledger-heartbeat")

    async def close(self) -> None:
        """Stop beating and leave: whatever this process still owns becomes recoverable at once."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        with contextlib.suppress(Exception):
            async with self._engine.begin() as conn:
                await conn.execute(instances.delete().where(instances.c.id == self.instance_id))
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def _locked(self, user_id: str | None) -> AsyncIterator[AsyncConnection]:
        """A transaction in which the user's rate-limit count cannot change under us.

        PostgreSQL: an advisory lock per user, held to the end of the transaction, across replicas.
        SQLite: the engine has one connection, so its transactions never overlap in the first place.
        """
        async with self._engine.begin() as conn:
            if self._postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"user:{user_id}"})
            yield conn

    async def _rate(
        self, conn: AsyncConnection, user_id: str | None, limit: int | None, wanted: int
    ) -> RateLimited | None:
        if not limit or user_id is None:
            return None
        since = now() - WINDOW
        recent = (
            (
                await conn.execute(
                    select(events.c.at)
                    .where(and_(events.c.user_id == user_id, events.c.kind == "attempt", events.c.at > since))
                    .order_by(events.c.at)
                )
            )
            .scalars()
            .all()
        )
        if len(recent) + wanted <= limit:
            return None
        if wanted > limit:
            return RateLimited(limit, 60)
        # Wait until enough of the oldest attempts leave the one-minute window.
        frees_at = recent[len(recent) + wanted - limit - 1] + WINDOW
        return RateLimited(limit, max(1, int((frees_at - now()).total_seconds()) + 1))

    async def reserve(
        self, entries: Sequence[NewSend], *, user_id: str | None, limit_per_minute: int | None
    ) -> list[str] | RateLimited:
        """Record the messages as queued (not sent yet), unless that would break the rate limit."""
        async with self._locked(user_id) as conn:
            limited = await self._rate(conn, user_id, limit_per_minute, len(entries))
            if limited is not None:
                return limited
            stamp = now()
            ids = [uuid.uuid4().hex for _ in entries]
            await conn.execute(
                insert(sends),
                [
                    {
                        "id": send_id,
                        "created_at": stamp,
                        "updated_at": stamp,
                        "team_id": e.team_id,
                        "user_id": e.user_id,
                        "channel_id": e.channel_id,
                        "provider": e.provider,
                        "channel_key": e.channel_key,
                        "recipient": e.recipient,
                        "name": e.name,
                        "text": e.text,
                        "media": json.dumps({"image_urls": list(e.image_urls), "file_url": e.file_url}),
                        "status": SendStatus.QUEUED.value,
                        "attempts": 0,
                        "via": e.via,
                        "owner": self.instance_id,
                    }
                    for send_id, e in zip(ids, entries, strict=True)
                ],
            )
            await conn.execute(
                insert(events),
                [{"send_id": i, "at": stamp, "user_id": user_id, "kind": "attempt", "status": "queued"} for i in ids],
            )
            return ids

    async def start_attempt(
        self,
        send_id: str,
        *,
        text: str | None = None,
        name: str | None = None,
        report: Report | None = None,
    ) -> None:
        """queued/pending → pending, just before Sociocs is called (an automatic retry calls it again).

        `report` says where the send is reported, so later updates (retries, recovery, delivery status)
        reach the same thread, and makes that thread the number's latest conversation. One transaction.
        """
        values: dict[str, Any] = {
            "status": SendStatus.PENDING.value,
            "updated_at": now(),
            "attempts": sends.c.attempts + 1,
            "owner": self.instance_id,
        }
        if text is not None:
            values["text"] = text
        if name is not None:
            values["name"] = name
        if report is not None:
            values.update(channel_id=report.channel_id, thread_ts=report.thread_ts, summary_ts=report.summary_ts)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(sends)
                .where(sends.c.id == send_id)
                .values(**values)
                .returning(sends.c.provider, sends.c.channel_key, sends.c.recipient)
            )
            row = result.first()
            if report is not None and report.thread_ts and row is not None:
                await self._remember(
                    conn, row.provider, row.channel_key, row.recipient, report.channel_id, report.thread_ts
                )

    async def finish(
        self, send_id: str, status: SendStatus, *, message_id: str | None, error: str | None, http_status: int | None
    ) -> None:
        stamp = now()
        async with self._engine.begin() as conn:
            await conn.execute(
                update(sends)
                .where(sends.c.id == send_id)
                .values(
                    status=status.value, message_id=message_id, error=error, http_status=http_status, updated_at=stamp
                )
            )
            await conn.execute(
                insert(events).values(send_id=send_id, at=stamp, kind="status", status=status.value, detail=error)
            )

    async def claim_retry(
        self, send_id: str, *, user_id: str, limit_per_minute: int | None
    ) -> SendRecord | RateLimited | None:
        """Atomically take a failed or unknown send for one new attempt; None if it is not retryable
        (already retried by someone else, sent, or unknown id)."""
        async with self._locked(user_id) as conn:
            limited = await self._rate(conn, user_id, limit_per_minute, 1)
            if limited is not None:
                return limited
            stamp = now()
            claimed = await conn.execute(
                update(sends)
                .where(
                    and_(
                        sends.c.id == send_id,
                        or_(
                            sends.c.status.in_([s.value for s in RETRYABLE]),
                            sends.c.delivery_status.in_(UNDELIVERED),
                        ),
                    )
                )
                .values(
                    status=SendStatus.PENDING.value,
                    updated_at=stamp,
                    retried_by=user_id,
                    owner=self.instance_id,
                    message_id=None,
                    error=None,
                    http_status=None,
                    delivery_status=None,
                    delivery_error=None,
                )
            )
            if claimed.rowcount != 1:
                return None
            await conn.execute(
                insert(events).values(send_id=send_id, at=stamp, user_id=user_id, kind="attempt", status="retry")
            )
            row = (await conn.execute(select(sends).where(sends.c.id == send_id))).one()
            return _record(row)

    async def recover(self) -> list[SendRecord]:
        """Claim sends left queued or pending by processes that are gone; mark them failed (queued: never
        sent) or unknown (pending: may have gone out) and return them for reporting."""
        cutoff = now() - timedelta(seconds=self.dead_after)
        alive = select(instances.c.id).where(instances.c.heartbeat_at > cutoff)
        recovered: list[SendRecord] = []
        async with self._engine.begin() as conn:
            await conn.execute(instances.update().where(instances.c.id == self.instance_id).values(heartbeat_at=now()))
            rows = (
                await conn.execute(
                    select(sends).where(
                        and_(
                            sends.c.status.in_([SendStatus.QUEUED.value, SendStatus.PENDING.value]),
                            sends.c.owner.not_in(alive),
                        )
                    )
                )
            ).all()
        for row in rows:
            queued = row.status == SendStatus.QUEUED.value
            status = SendStatus.FAILED if queued else SendStatus.UNKNOWN
            error = RESTARTED_BEFORE if queued else RESTARTED_WHILE
            async with self._engine.begin() as conn:
                claimed = await conn.execute(
                    update(sends)
                    .where(and_(sends.c.id == row.id, sends.c.status == row.status, sends.c.owner == row.owner))
                    .values(status=status.value, error=error, updated_at=now(), owner=self.instance_id)
                )
                if claimed.rowcount != 1:
                    continue  # another replica got there first
                await conn.execute(
                    insert(events).values(send_id=row.id, at=now(), kind="status", status=status.value, detail=error)
                )
                fresh = (await conn.execute(select(sends).where(sends.c.id == row.id))).one()
            recovered.append(_record(fresh))
        async with self._engine.begin() as conn:
            await conn.execute(instances.delete().where(instances.c.heartbeat_at <= cutoff))
        return recovered

    async def get(self, send_id: str) -> SendRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(sends).where(sends.c.id == send_id))).first()
        return _record(row) if row is not None else None

    async def history(self, user_id: str, limit: int = 10) -> list[SendRecord]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(sends)
                    .where(sends.c.user_id == user_id)
                    .order_by(sends.c.created_at.desc(), sends.c.id)
                    .limit(limit)
                )
            ).all()
        return [_record(r) for r in rows]

    async def status_events(self, send_id: str) -> list[tuple[datetime, str, str | None]]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(events.c.at, events.c.status, events.c.detail)
                    .where(and_(events.c.send_id == send_id, events.c.kind == "status"))
                    .order_by(events.c.id)
                )
            ).all()
        return [(r.at, r.status, r.detail) for r in rows]

    # Delivery status (Sociocs webhooks) -------------------------------------------------------------------

    async def record_delivery(
        self, message_id: str, status: str, *, error_code: str | None, error_message: str | None
    ) -> bool:
        """Keep a status update; False when it is a duplicate (the same message id and status again)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(deliveries).values(
                        message_id=message_id,
                        status=status,
                        at=now(),
                        error_code=error_code,
                        error_message=error_message,
                        applied=0,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def claim_deliveries(
        self, message_id: str
    ) -> tuple[SendRecord, list[tuple[str, str | None, str | None]]] | None:
        """Take the not-yet-reported status updates of a message whose send is known, exactly once.

        Returns the send (with its delivery status raised to the highest status seen, never lowered)
        and the claimed (status, error code, error message) in arrival order; None when the send is not
        known yet (its updates wait for it) or nothing is left to report.
        """
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(sends).where(sends.c.message_id == message_id))).first()
            if row is None:
                return None
            pending = (
                await conn.execute(
                    select(deliveries)
                    .where(and_(deliveries.c.message_id == message_id, deliveries.c.applied == 0))
                    .order_by(deliveries.c.id)
                )
            ).all()
            claimed = []
            for event in pending:
                done = await conn.execute(
                    update(deliveries)
                    .where(and_(deliveries.c.id == event.id, deliveries.c.applied == 0))
                    .values(applied=1)
                )
                if done.rowcount == 1:
                    claimed.append((event.status, event.error_code, event.error_message))
            if not claimed:
                return None
            best = row.delivery_status
            error = row.delivery_error
            for status, code, message in claimed:
                if STATUS_RANK.get(status, 0) > STATUS_RANK.get(best or "", 0):
                    best = status
                    if status in UNDELIVERED:
                        error = " ".join(p for p in (f"[{code}]" if code else "", message or "") if p) or None
            await conn.execute(
                update(sends).where(sends.c.id == row.id).values(delivery_status=best, delivery_error=error)
            )
            await conn.execute(
                insert(events),
                [
                    {
                        "send_id": row.id,
                        "at": now(),
                        "kind": "status",
                        "status": f"delivery:{status}",
                        "detail": message,
                    }
                    for status, _, message in claimed
                ],
            )
            fresh = (await conn.execute(select(sends).where(sends.c.id == row.id))).one()
        return _record(fresh), claimed

    async def sends_in_summary(self, channel_id: str, summary_ts: str) -> list[SendRecord]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(sends)
                    .where(and_(sends.c.channel_id == channel_id, sends.c.summary_ts == summary_ts))
                    .order_by(sends.c.created_at, sends.c.id)
                )
            ).all()
        return [_record(r) for r in rows]

    # Conversations: which Slack thread belongs to which number ----------------------------------------------

    async def remember_thread(
        self, *, provider: str, channel_key: str, number: str, channel_id: str, thread_ts: str
    ) -> None:
        """Make this thread the number's latest conversation on this channel."""
        async with self._engine.begin() as conn:
            await self._remember(conn, provider, channel_key, number, channel_id, thread_ts)

    async def _remember(
        self, conn: AsyncConnection, provider: str, channel_key: str, number: str, channel_id: str, thread_ts: str
    ) -> None:
        key = and_(threads.c.provider == provider, threads.c.channel_key == channel_key, threads.c.number == number)
        changed = await conn.execute(
            update(threads).where(key).values(channel_id=channel_id, thread_ts=thread_ts, updated_at=now())
        )
        if changed.rowcount:
            return
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(threads).values(
                        provider=provider,
                        channel_key=channel_key,
                        number=number,
                        channel_id=channel_id,
                        thread_ts=thread_ts,
                        updated_at=now(),
                    )
                )
        except IntegrityError:  # another replica inserted it first: take ours as the latest
            await conn.execute(
                update(threads).where(key).values(channel_id=channel_id, thread_ts=thread_ts, updated_at=now())
            )

    async def thread_for(self, *, provider: str, channel_key: str, number: str) -> tuple[str, str] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(threads.c.channel_id, threads.c.thread_ts).where(
                        and_(
                            threads.c.provider == provider,
                            threads.c.channel_key == channel_key,
                            threads.c.number == number,
                        )
                    )
                )
            ).first()
        return (row.channel_id, row.thread_ts) if row else None

    async def conversation_in(self, channel_id: str, thread_ts: str) -> tuple[str, str, str] | None:
        """(provider, channel key, number) of the conversation bridged into this Slack thread, if any."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(threads.c.provider, threads.c.channel_key, threads.c.number)
                    .where(and_(threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts))
                    .order_by(threads.c.updated_at.desc())
                )
            ).first()
        return (row.provider, row.channel_key, row.number) if row else None

    async def first_incoming(self, message_id: str, number: str) -> bool:
        """Record an incoming message id; False if it was already handled."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(incoming).values(message_id=message_id, at=now(), number=number))
        except IntegrityError:
            return False
        return True
