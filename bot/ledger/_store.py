"""Ledger operations. Each is one short transaction; claims are conditional UPDATEs, so two presses,
two people or two replicas can never both win."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Select,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.ledger._async import AsyncConnection, AsyncEngine
from bot.ledger._batch import GroupCommit
from bot.ledger._checkpoint import Checkpointer
from bot.ledger._choices import ChoicesMixin
from bot.ledger._conversations import ConversationsMixin
from bot.ledger._hot import STARTED_CHUNK, HotStatements
from bot.ledger._prepared import Prepared, execute, execute_many, fetch, in_values, rowcount
from bot.ledger._reader import SyncReads
from bot.ledger._records import (
    RETRYABLE,
    NewSend,
    PendingMention,
    RateLimited,
    Report,
    SeenBefore,
    SendRecord,
    SendStatus,
    ThreadCustomer,
    record_from_row,
)
from bot.ledger._replies import RepliesMixin, ReplyStatements
from bot.ledger._schedule import ScheduleMixin
from bot.ledger._schema import (
    MIGRATIONS,
    READS_OPTION,
    SCHEMA_VERSION,
    deliveries,
    engine_for,
    events,
    incoming,
    instances,
    metadata,
    pending_mentions,
    schema_version,
    seen_requests,
    sends,
    sqlite_file,
    thread_customers,
    threads,
    writer_engine_for,
)
from bot.ledger._window import WindowMixin

log = logging.getLogger(__name__)

RESTARTED_BEFORE = "the bot restarted before sending it, so nothing was sent"
RESTARTED_WHILE = "the bot restarted while sending"
DEAD_AFTER_SECONDS = 20.0  # a process silent this long is presumed gone
WINDOW = timedelta(seconds=60)
SEEN_FOR = timedelta(hours=1)  # Slack retries an event for minutes; a signature is valid for 5
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


def _host() -> str:
    """This host, as far as process ids mean anything: its name and its PID namespace. Containers on the
    host's network share its name, and each runs the bot as pid 1 (seen with podman): without the
    namespace, a replica starting beside another took that live one for its own gone predecessor and
    recovered its sends as it sent them. A live namespace's id is unique; a restarted container may get a
    dead one's id back, and then knows its predecessor is gone at once, as before."""
    name = socket.gethostname()[:200]
    try:
        return f"{name} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return name


_HOST = _host()


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _exclusive_lock(path: str) -> IO[bytes] | None:
    """Hold an exclusive lock on `path` until the returned file is closed; None if another process has it."""
    try:
        handle = Path(path).expanduser().open("ab")
    except OSError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


@dataclass(frozen=True, slots=True)
class _Reservation:
    entries: tuple[NewSend, ...]
    user_id: str | None
    limit: int | None
    request_key: str | None = None  # the Slack request's replay key, recorded in the same transaction


@dataclass(frozen=True, slots=True)
class _Start:
    send_id: str
    text: str | None
    name: str | None
    report: Report | None


@dataclass(frozen=True, slots=True)
class _Finish:
    send_id: str
    status: SendStatus
    message_id: str | None
    error: str | None
    http_status: int | None


def _execute_each(conn: Connection, statements: Sequence[Executable]) -> list[int]:
    """Run write statements as they are (values bound); the rows each touched."""
    return [conn.execute(statement).rowcount for statement in statements]


def _execute_prepared(conn: Connection, writes: Sequence[tuple[Prepared, dict[str, Any]]]) -> list[int]:
    """Run prepared writes with their values; the rows each touched."""
    return [rowcount(conn, prepared, values) for prepared, values in writes]


def _inserted(conn: Connection, prepared: Prepared, values: dict[str, Any]) -> bool:
    """Run an INSERT … ON CONFLICT DO NOTHING RETURNING: whether it inserted (a row came back)."""
    cursor = execute(conn, prepared, values)
    try:
        return cursor.fetchone() is not None
    finally:
        cursor.close()


def _media(entry: NewSend) -> dict[str, Any]:
    """The `media` column's JSON: a video, a template and `--save` only when there is one (older rows
    lack them), so what a Retry sends is all there without a new column."""
    media: dict[str, Any] = {"image_urls": list(entry.image_urls), "file_url": entry.file_url}
    if entry.video_url is not None:
        media["video_url"] = entry.video_url
    if entry.template is not None:
        media["template"] = entry.template
    if entry.save_contact:
        media["contact_saving"] = True
    return media


def _send_row(send_id: str, entry: NewSend, stamp: datetime, owner: str) -> dict[str, Any]:
    return {
        "id": send_id,
        "created_at": stamp,
        "updated_at": stamp,
        "team_id": entry.team_id,
        "user_id": entry.user_id,
        "channel_id": entry.channel_id,
        "provider": entry.provider,
        "channel_key": entry.channel_key,
        "recipient": entry.recipient,
        "name": entry.name,
        "text": entry.text,
        "media": json.dumps(_media(entry)),
        "status": SendStatus.QUEUED.value,
        "attempts": 0,
        "via": entry.via,
        "owner": owner,
    }


def _recent_attempts(user_id: str) -> Select[Any]:
    """The times of the user's attempts within the rate limit's window, oldest first."""
    since = now() - WINDOW
    return (
        select(events.c.at)
        .where(and_(events.c.user_id == user_id, events.c.kind == "attempt", events.c.at > since))
        .order_by(events.c.at)
    )


def _over_limit(recent: Sequence[datetime], limit: int, wanted: int, extra: int = 0) -> RateLimited | None:
    """None if `wanted` more attempts fit in `limit` a minute, given the `recent` ones and `extra` being
    recorded now (earlier reservations of the same transaction); otherwise how long to wait."""
    stamp = now()
    attempts = [*recent, *([stamp] * extra)]
    if len(attempts) + wanted <= limit:
        return None
    if wanted > limit:
        return RateLimited(limit, 60)
    # Wait until enough of the oldest attempts leave the one-minute window.
    frees_at = attempts[len(attempts) + wanted - limit - 1] + WINDOW
    return RateLimited(limit, max(1, int((frees_at - stamp).total_seconds()) + 1))


def now() -> datetime:
    """Naive UTC: stored the same way in SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Ledger(RepliesMixin, ScheduleMixin, WindowMixin, ChoicesMixin, ConversationsMixin):
    def __init__(self, engine: AsyncEngine, writer: Engine, dead_after: float = DEAD_AFTER_SECONDS) -> None:
        self._engine = engine
        self._reads = engine.execution_options(**{READS_OPTION: True})
        self.dead_after = dead_after
        self._postgres = engine.dialect.name == "postgresql"
        self.instance_id = uuid.uuid4().hex
        self._heartbeat: asyncio.Task[None] | None = None
        self._writes = GroupCommit(writer)
        self._hot = HotStatements(writer.dialect)  # the writer's and reader's threads speak its dialect
        self._reply_sql = ReplyStatements(writer.dialect)
        self._sync_reads = SyncReads(writer)
        self._lock_file: IO[bytes] | None = None
        file = sqlite_file(writer.url)
        self._checkpointer = None if file is None else Checkpointer(file, lambda: self._writes.transactions)

    @classmethod
    async def open(cls, url: str, dead_after: float = DEAD_AFTER_SECONDS, *, serving: bool = False) -> Ledger:
        """Connect, create or upgrade the schema, and register this process as alive.

        A process that has not beaten for `dead_after` seconds is presumed gone, and its unfinished
        sends are recovered by whichever process sweeps next. A `serving` process also looks for
        predecessors that are provably gone (see `_forget_gone`), so a restart reports their unfinished
        sends at once instead of after `dead_after`.
        """
        ledger = cls(engine_for(url), writer_engine_for(url), dead_after)
        await ledger._migrate()
        async with ledger._engine.begin() as conn:
            stamp = now()
            await conn.execute(
                insert(instances).values(
                    id=ledger.instance_id, started_at=stamp, heartbeat_at=stamp, host=_HOST, pid=os.getpid()
                )
            )
        if serving:
            await ledger._forget_gone(url)
        return ledger

    async def _forget_gone(self, url: str) -> None:
        """Drop the registrations of processes that provably stopped, making their sends recoverable now.

        SQLite: a serving process holds an exclusive lock on `<database>.lock` for its lifetime, which
        the kernel releases when it dies (kill -9 included); whoever gets the lock knows every other
        registered process is gone. Otherwise (PostgreSQL, or a second process on one SQLite file): a
        process on this host and in this PID namespace (`_host`) whose pid no longer runs, or whose pid
        is ours, is gone. Others wait for their heartbeat to go stale.
        """
        file = sqlite_file(make_url(url))
        if file is not None:
            self._lock_file = _exclusive_lock(f"{file}.lock")
        async with self._engine.begin() as conn:
            others = (
                await conn.execute(
                    select(instances.c.id, instances.c.host, instances.c.pid).where(instances.c.id != self.instance_id)
                )
            ).all()
            gone = [
                row.id
                for row in others
                if self._lock_file is not None
                or (row.host == _HOST and row.pid is not None and (row.pid == os.getpid() or not _pid_alive(row.pid)))
            ]
            if gone:
                await conn.execute(instances.delete().where(instances.c.id.in_(gone)))
        if gone:
            log.info("%d earlier bot process(es) provably stopped: their unfinished sends are reported now", len(gone))

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
                    await self._beat()

        self._heartbeat = asyncio.get_running_loop().create_task(beat(), name="ledger-heartbeat")

    async def _beat(self) -> None:
        """This process is alive now (its `instances` row's heartbeat)."""
        await self._write_prepared(self._hot.beat, {"b_id": self.instance_id, "b_stamp": now()})

    async def close(self) -> None:
        """Stop beating and leave: whatever this process still owns becomes recoverable at once."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        with contextlib.suppress(Exception):
            async with self._engine.begin() as conn:
                await conn.execute(instances.delete().where(instances.c.id == self.instance_id))
        await self._engine.dispose()
        await asyncio.get_running_loop().run_in_executor(None, self._sync_reads.close)
        await asyncio.get_running_loop().run_in_executor(None, self._writes.close)
        if self._checkpointer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.close)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

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
        recent = (await conn.execute(_recent_attempts(user_id))).scalars().all()
        return _over_limit(recent, limit, wanted)

    async def _write(self, statement: Executable) -> int:
        """One write statement through the writer's thread, sharing its transactions; the rows it touched.

        With SQLite every write goes this way where it can: a write transaction on the async
        connection would hold the file's write lock across turns of the event loop, and the writer
        (acknowledgements wait for it) would sleep in SQLite's busy handler meanwhile (measured).
        """
        touched: int = await self._writes.run(_execute_each, statement)
        return touched

    async def _write_prepared(self, prepared: Prepared, values: dict[str, Any]) -> int:
        """A frequent write (see `_hot.py`) through the writer's thread, like `_write`; the rows it touched."""
        touched: int = await self._writes.run(_execute_prepared, (prepared, values))
        return touched

    async def reserve(
        self,
        entries: Sequence[NewSend],
        *,
        user_id: str | None,
        limit_per_minute: int | None,
        request_key: str | None = None,
    ) -> list[str] | RateLimited | SeenBefore:
        """Record the messages as queued (not sent yet), unless that would break the rate limit.

        Durable when it returns: callers answer Slack only after this. Concurrent reservations share
        one transaction and its statements (group commit), so a burst pays a few statements, not many.
        `request_key` is the replay check of the Slack request asking (see `first_request`), done in
        the same transaction so the acknowledgement waits for one round trip instead of two: a key
        seen before gives SeenBefore and records nothing; a new one is recorded, rate-limited or not.
        """
        locks = (f"user:{user_id}",) if limit_per_minute and user_id is not None else ()
        result: list[str] | RateLimited | SeenBefore = await self._writes.run(
            self._reserve_many,
            _Reservation(tuple(entries), user_id, limit_per_minute, request_key),
            locks=locks,
            urgent=True,
        )
        return result

    def _reserve_many(
        self, conn: Connection, requests: Sequence[_Reservation]
    ) -> list[list[str] | RateLimited | SeenBefore]:
        stamp = now()
        hot = self._hot
        taken: dict[str, int] = {}  # what earlier reservations of this batch counted against each user
        results: list[list[str] | RateLimited | SeenBefore] = []
        send_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        keys = list(dict.fromkeys(r.request_key for r in requests if r.request_key is not None))
        firsts = dict(zip(keys, self._first_requests(conn, keys), strict=True)) if keys else {}
        for request in requests:
            if request.request_key is not None and not firsts[request.request_key]:
                results.append(SeenBefore(request.request_key))
                continue
            if request.request_key is not None:
                firsts[request.request_key] = False  # the same key twice in one batch: the second is a replay
            user = request.user_id
            if request.limit and user is not None:
                since = now() - WINDOW
                recent = [row.at for row in fetch(conn, hot.recent_attempts, {"user_id": user, "since": since})]
                limited = _over_limit(recent, request.limit, len(request.entries), taken.get(user, 0))
                if limited is not None:
                    results.append(limited)
                    continue
                taken[user] = taken.get(user, 0) + len(request.entries)
            ids = [uuid.uuid4().hex for _ in request.entries]
            results.append(ids)
            send_rows.extend(
                _send_row(send_id, e, stamp, self.instance_id) for send_id, e in zip(ids, request.entries, strict=True)
            )
            event_rows.extend(
                {"send_id": i, "at": stamp, "user_id": user, "kind": "attempt", "status": "queued"} for i in ids
            )
        if send_rows:
            execute_many(conn, hot.insert_sends, send_rows)
            execute_many(conn, hot.insert_attempts, event_rows)
        return results

    async def start_attempt(
        self,
        send_id: str,
        *,
        text: str | None = None,
        name: str | None = None,
        report: Report | None = None,
    ) -> bool:
        """queued/pending → pending, just before Sociocs is called (an automatic retry calls it again).

        Sociocs may be called only once this has returned True: the mark is durable, so recovery can
        never call a send "not sent" once its call may have happened. False means the send is no longer
        this process's to make (recovered by another replica, or finished): it must not be sent.
        `report` says where the send is reported, so later updates (retries, recovery, delivery status)
        reach the same thread, and makes that thread the number's latest conversation.
        """
        started: bool = await self._writes.run(self._start_many, _Start(send_id, text, name, report))
        return started

    def _start_many(self, conn: Connection, requests: Sequence[_Start]) -> list[bool]:
        stamp = now()
        hot = self._hot
        execute_many(
            conn,
            hot.start,
            [
                {
                    "b_id": r.send_id,
                    "b_owner": self.instance_id,
                    "b_stamp": stamp,
                    "b_text": r.text,
                    "b_name": r.name,
                    "b_channel": r.report.channel_id if r.report else None,
                    "b_thread": r.report.thread_ts if r.report else None,
                    "b_summary": r.report.summary_ts if r.report else None,
                }
                for r in requests
            ],
        )
        ids = list(dict.fromkeys(r.send_id for r in requests))
        rows: dict[str, Any] = {}
        for at in range(0, len(ids), STARTED_CHUNK):
            chunk = ids[at : at + STARTED_CHUNK]
            values = in_values(chunk)
            rows.update((row.id, row) for row in fetch(conn, hot.started_in(len(values)), values))
        started = [
            r.send_id in rows
            and rows[r.send_id].status == SendStatus.PENDING.value
            and rows[r.send_id].owner == self.instance_id
            for r in requests
        ]
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}  # each number's latest thread
        customers: dict[tuple[str, ...], dict[str, Any]] = {}  # each thread's customers
        for request, ok in zip(requests, started, strict=True):
            if ok and request.report is not None and request.report.thread_ts:
                row = rows[request.send_id]
                where = {"channel_id": request.report.channel_id, "thread_ts": request.report.thread_ts}
                who = {"provider": row.provider, "channel_key": row.channel_key}
                latest[(row.provider, row.channel_key, row.recipient)] = {
                    **who,
                    **where,
                    "number": row.recipient,
                    "updated_at": stamp,
                }
                customer = {**where, **who, "number": row.recipient, "added_at": stamp}
                customers[tuple(str(v) for k, v in customer.items() if k != "added_at")] = customer
        if latest:
            # The thread gains these customers (a mention there must choose among them, never guess).
            execute_many(conn, hot.join_thread, list(customers.values()))
            execute_many(conn, hot.latest_thread, list(latest.values()))
        return started

    async def finish(
        self, send_id: str, status: SendStatus, *, message_id: str | None, error: str | None, http_status: int | None
    ) -> None:
        await self._writes.run(self._finish_many, _Finish(send_id, status, message_id, error, http_status))

    def _finish_many(self, conn: Connection, requests: Sequence[_Finish]) -> list[None]:
        stamp = now()
        execute_many(
            conn,
            self._hot.finish,
            [
                {
                    "b_id": r.send_id,
                    "b_stamp": stamp,
                    "b_status": r.status.value,
                    "b_message_id": r.message_id,
                    "b_error": r.error,
                    "b_http_status": r.http_status,
                }
                for r in requests
            ],
        )
        execute_many(
            conn,
            self._hot.insert_statuses,
            [
                {"send_id": r.send_id, "at": stamp, "kind": "status", "status": r.status.value, "detail": r.error}
                for r in requests
            ],
        )
        return [None] * len(requests)

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
            return record_from_row(row)

    async def recover(self) -> list[SendRecord]:
        """Claim sends left queued or pending by processes that are gone; mark them failed (queued: never
        sent) or unknown (pending: may have gone out) and return them for reporting."""
        cutoff = now() - timedelta(seconds=self.dead_after)
        hot = self._hot
        # Alive first (this process's own sends are never taken for a gone one's), then the read, both
        # prepared: a sweep usually finds nothing, and should cost next to nothing then.
        await self._beat()
        rows = await self._sync_reads.run(lambda conn: fetch(conn, hot.orphans, {"b_cutoff": cutoff}))
        recovered: list[SendRecord] = []
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
            recovered.append(record_from_row(fresh))
        if await self._sync_reads.run(lambda conn: fetch(conn, hot.gone, {"b_cutoff": cutoff})):
            async with self._engine.begin() as conn:
                await conn.execute(instances.delete().where(instances.c.heartbeat_at <= cutoff))
        return recovered

    async def readable(self) -> None:
        """Read the ledger once, or raise why it cannot be read (readiness asks every two seconds).

        One hand-off to the reader's thread and a prepared statement: through the async engine the
        same check cost about 2.4 ms of CPU each time, more than a send's ledger work (#18)."""
        values = in_values(["readiness-check"])
        prepared = self._hot.started_in(len(values))
        await self._sync_reads.run(lambda conn: fetch(conn, prepared, values))

    async def get(self, send_id: str) -> SendRecord | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(select(sends).where(sends.c.id == send_id))).first()
        return record_from_row(row) if row is not None else None

    async def history(self, user_id: str, limit: int = 10) -> list[SendRecord]:
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(sends)
                    .where(sends.c.user_id == user_id)
                    .order_by(sends.c.created_at.desc(), sends.c.id)
                    .limit(limit)
                )
            ).all()
        return [record_from_row(r) for r in rows]

    async def status_events(self, send_id: str) -> list[tuple[datetime, str, str | None]]:
        async with self._reads.connect() as conn:
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
            # A scheduled message Sociocs reports on has gone out (or failed to): it is a send like any other.
            await conn.execute(
                update(sends)
                .where(and_(sends.c.id == row.id, sends.c.status == SendStatus.SCHEDULED.value))
                .values(status=SendStatus.SENT.value)
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
        return record_from_row(fresh), claimed

    async def sends_in_summary(self, channel_id: str, summary_ts: str) -> list[SendRecord]:
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(sends)
                    .where(and_(sends.c.channel_id == channel_id, sends.c.summary_ts == summary_ts))
                    .order_by(sends.c.created_at, sends.c.id)
                )
            ).all()
        return [record_from_row(r) for r in rows]

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
        await self._join_thread(conn, channel_id, thread_ts, ThreadCustomer(provider, channel_key, number))
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
        async with self._reads.connect() as conn:
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

    # Thread customers: everyone a Slack thread's messages went to or came from --------------------------------

    async def join_thread(self, channel_id: str, thread_ts: str, customer: ThreadCustomer) -> None:
        """Count the customer among the thread's (again: no change but a name learnt)."""
        async with self._engine.begin() as conn:
            await self._join_thread(conn, channel_id, thread_ts, customer)

    async def _join_thread(self, conn: AsyncConnection, channel_id: str, thread_ts: str, who: ThreadCustomer) -> None:
        key = and_(
            thread_customers.c.channel_id == channel_id,
            thread_customers.c.thread_ts == thread_ts,
            thread_customers.c.provider == who.provider,
            thread_customers.c.channel_key == who.channel_key,
            thread_customers.c.number == who.number,
        )
        if (await conn.execute(select(thread_customers.c.name).where(key))).first() is None:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        insert(thread_customers).values(
                            channel_id=channel_id,
                            thread_ts=thread_ts,
                            provider=who.provider,
                            channel_key=who.channel_key,
                            number=who.number,
                            name=who.name,
                            added_at=now(),
                        )
                    )
                return
            except IntegrityError:  # another replica added it first
                pass
        if who.name:
            await conn.execute(update(thread_customers).where(key).values(name=who.name))

    async def thread_customers(self, channel_id: str, thread_ts: str) -> list[ThreadCustomer]:
        """The thread's customers in the order they joined it, with the latest name known for each.

        Threads bridged before this table existed are known only through `threads` (each number's latest
        thread), so those count too.
        """
        async with self._reads.connect() as conn:
            joined = (
                await conn.execute(
                    select(thread_customers)
                    .where(and_(thread_customers.c.channel_id == channel_id, thread_customers.c.thread_ts == thread_ts))
                    .order_by(thread_customers.c.added_at, thread_customers.c.number)
                )
            ).all()
            legacy = (
                await conn.execute(
                    select(threads.c.provider, threads.c.channel_key, threads.c.number)
                    .where(and_(threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts))
                    .order_by(threads.c.updated_at)
                )
            ).all()
            named = (
                await conn.execute(
                    select(sends.c.recipient, sends.c.name)
                    .where(
                        and_(
                            sends.c.channel_id == channel_id,
                            or_(sends.c.thread_ts == thread_ts, sends.c.summary_ts == thread_ts),
                            sends.c.name.is_not(None),
                        )
                    )
                    .order_by(sends.c.created_at)
                )
            ).all()
        sent_names = {r.recipient: r.name for r in named}  # the latest name a send to the number used
        found: dict[tuple[str, str, str], ThreadCustomer] = {}
        for r in [*joined, *legacy]:
            key = (r.provider, r.channel_key, r.number)
            if key not in found:
                name = getattr(r, "name", None) or sent_names.get(r.number)
                found[key] = ThreadCustomer(r.provider, r.channel_key, r.number, name)
        return list(found.values())

    async def hold_mention(
        self,
        *,
        team_id: str | None,
        user_id: str,
        channel_id: str,
        thread_ts: str,
        text: str,
        customers: Sequence[ThreadCustomer],
    ) -> str:
        """Keep a mention until its author chooses a customer; returns its random id."""
        mention_id = uuid.uuid4().hex
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(pending_mentions).values(
                    id=mention_id,
                    created_at=now(),
                    team_id=team_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    text=text,
                    customers=json.dumps([[c.provider, c.channel_key, c.number, c.name] for c in customers]),
                )
            )
        return mention_id

    async def pending_mention(self, mention_id: str) -> PendingMention | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(select(pending_mentions).where(pending_mentions.c.id == mention_id))).first()
        if row is None:
            return None
        return PendingMention(
            id=row.id,
            created_at=row.created_at,
            user_id=row.user_id,
            team_id=row.team_id,
            channel_id=row.channel_id,
            thread_ts=row.thread_ts,
            text=row.text,
            customers=tuple(ThreadCustomer(*c) for c in json.loads(row.customers)),
            decision=row.decision,
        )

    async def decide_mention(self, mention_id: str, user_id: str, decision: str) -> bool:
        """Claim the undecided mention for its author ("sent" or "cancelled"): True exactly once."""
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                update(pending_mentions)
                .where(
                    and_(
                        pending_mentions.c.id == mention_id,
                        pending_mentions.c.user_id == user_id,
                        pending_mentions.c.decision.is_(None),
                    )
                )
                .values(decision=decision, decided_at=now())
            )
        return claimed.rowcount == 1

    async def undecide_mention(self, mention_id: str) -> None:
        """Hand a claimed mention back (its send was refused), so its author can choose again."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(pending_mentions)
                .where(pending_mentions.c.id == mention_id)
                .values(decision=None, decided_at=None)
            )

    async def forget_mentions(self, held_before: datetime) -> int:
        """Delete the mentions held before `held_before` (naive UTC), chosen or not; how many.
        Idempotent, so any replica may; the caller picks a time no press can use them after."""
        return await self._write(delete(pending_mentions).where(pending_mentions.c.created_at < held_before))

    async def forget_incoming(self, received_before: datetime) -> int:
        """Delete the ids of customer messages received before `received_before` (naive UTC); how many.
        Idempotent, so any replica may; the caller picks a time no redelivery comes after."""
        return await self._write(delete(incoming).where(incoming.c.at < received_before))

    async def first_incoming(self, message_id: str, number: str) -> bool:
        """Record an incoming message id; False if it was already handled."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(incoming).values(message_id=message_id, at=now(), number=number))
        except IntegrityError:
            return False
        return True

    async def first_request(self, key: str) -> bool:
        """Record a Slack request's key (event id or body fingerprint); False if it was seen before.

        Slack waits for this (it comes before the acknowledgement), so it rides the group commit.
        Keys older than SEEN_FOR are purged now and then (one transaction in a hundred)."""
        first: bool = await self._writes.run(self._first_requests, key, urgent=True)
        return first

    def _first_requests(self, conn: Connection, keys: Sequence[str]) -> list[bool]:
        stamp = now()
        insert_key = self._hot.insert_key
        firsts = [_inserted(conn, insert_key, {"key": key, "at": stamp}) for key in keys]
        if random.random() < 0.01:
            conn.execute(seen_requests.delete().where(seen_requests.c.at < stamp - SEEN_FOR))
        return firsts
