"""What each send's outcome reply in Slack shows, so a restart shows what was not yet shown, once.

One row per send (one command or form: its summary message), keyed by the summary: the recipients'
send ids in recipient order, the reply's ts once posted, and what the reply shows (`shown`, send id →
the status it shows). `complete` is set once every recipient's final outcome is shown;
`statuses_due` while the summary's delivery statuses wait for an edit. A process that dies with a
row incomplete leaves it to the recovery sweep of whichever process notices, which claims
it (`owner`) and shows it. A new table: created at start, no schema-version bump needed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Executable,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    select,
    update,
)

from bot.ledger._async import AsyncEngine
from bot.ledger._prepared import Prepared, fetch, in_values
from bot.ledger._reader import SyncReads
from bot.ledger._records import SendRecord, record_from_row
from bot.ledger._schedule import scheduled_sends, schedules_in, with_schedule
from bot.ledger._schema import alive_since, instances, metadata, sends
from bot.ledger._upsert import upsert_into

replies = Table(
    "slack_replies",
    metadata,
    Column("channel_id", String(32), primary_key=True),
    Column("summary_ts", String(32), primary_key=True),
    Column("thread_ts", String(32), nullable=False),
    Column("send_ids", Text, nullable=False),  # JSON list, in recipient order
    Column("reply_ts", String(32)),
    Column("shown", Text, nullable=False),  # JSON {send id: status shown}
    Column("complete", Integer, nullable=False),
    Column("owner", String(32)),
    # Delivery statuses on the summary: 1 while an edit is due, by `statuses_owner`; cleared once
    # Slack accepted an edit rendered after the last change. A gone owner's due edit is made by another.
    Column("statuses_due", Integer, nullable=False, server_default="0"),
    Column("statuses_owner", String(32)),
    Column("updated_at", DateTime(), nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class ReplyState:
    channel_id: str
    summary_ts: str
    thread_ts: str
    send_ids: tuple[str, ...]
    reply_ts: str | None
    shown: dict[str, str]
    complete: bool


def _state(row: object) -> ReplyState:
    return ReplyState(
        channel_id=row.channel_id,  # type: ignore[attr-defined]
        summary_ts=row.summary_ts,  # type: ignore[attr-defined]
        thread_ts=row.thread_ts,  # type: ignore[attr-defined]
        send_ids=tuple(json.loads(row.send_ids)),  # type: ignore[attr-defined]
        reply_ts=row.reply_ts,  # type: ignore[attr-defined]
        shown=dict(json.loads(row.shown or "{}")),  # type: ignore[attr-defined]
        complete=bool(row.complete),  # type: ignore[attr-defined]
    )


_MAX_IN_ORDER = 256  # the most ids `sends_in_order` reads with a prepared statement (its largest `arity`)


class ReplyStatements:
    """The frequent statements on `slack_replies`, prepared once for a dialect (see `_prepared.py`)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        postgres = dialect.name == "postgresql"
        self.open_reply = Prepared(
            upsert_into(replies, postgres=postgres).on_conflict_do_nothing(),
            dialect,
            column_keys=(
                "channel_id",
                "summary_ts",
                "thread_ts",
                "send_ids",
                "shown",
                "complete",
                "owner",
                "updated_at",
            ),
        )
        one_reply = and_(
            replies.c.channel_id == bindparam("b_channel", type_=String),
            replies.c.summary_ts == bindparam("b_summary", type_=String),
        )
        self.mark_shown = Prepared(
            update(replies)
            .where(one_reply)
            .values(
                reply_ts=bindparam("b_reply_ts", type_=String),
                shown=bindparam("b_shown", type_=Text),
                complete=bindparam("b_complete", type_=replies.c.complete.type),
                updated_at=bindparam("b_stamp", type_=DateTime()),
            ),
            dialect,
        )
        self.statuses_due = Prepared(
            update(replies)
            .where(one_reply)
            .values(
                statuses_due=bindparam("b_due", type_=replies.c.statuses_due.type),
                statuses_owner=bindparam("b_owner", type_=String),
                updated_at=bindparam("b_stamp", type_=DateTime()),
            ),
            dialect,
        )
        self.reply_state = Prepared(select(replies).where(one_reply), dialect)
        self._in_order: dict[int, Prepared] = {}

    def sends_with_schedules(self, count: int) -> Prepared | None:
        """The sends with these `count` ids (`i0`…; `count` an `arity`), each with its schedule's `send_at`
        and `zone` (None for a send now): one statement, so one snapshot without a transaction. None past
        _MAX_IN_ORDER ids (the caller reads through SQLAlchemy)."""
        if count > _MAX_IN_ORDER:
            return None
        prepared = self._in_order.get(count)
        if prepared is None:
            prepared = self._in_order[count] = Prepared(_sends_with_schedules(count), self.dialect)
        return prepared


def _sends_with_schedules(count: int) -> Select[Any]:
    ids = [bindparam(f"i{n}", type_=String) for n in range(count)]
    return (
        select(sends, scheduled_sends.c.send_at, scheduled_sends.c.zone)
        .outerjoin(scheduled_sends, scheduled_sends.c.send_id == sends.c.id)
        .where(sends.c.id.in_(ids))
    )


class RepliesMixin:
    """The Ledger's operations on `slack_replies` (mixed into Ledger)."""

    _engine: AsyncEngine
    _reads: AsyncEngine  # the same engine for reads (SQLite: deferred BEGIN, no write lock)
    _write: Callable[[Executable], Awaitable[int]]  # Ledger's: one write through the writer's thread
    _sync_reads: SyncReads  # Ledger's: reads in the reader's thread, one hand-off each
    _reply_sql: ReplyStatements  # Ledger's: the statements below, prepared for the writer's and reader's dialect
    _write_prepared: Callable[[Prepared, dict[str, Any]], Awaitable[int]]  # Ledger's: one of those, written
    instance_id: str
    dead_after: float

    async def open_reply(self, channel_id: str, summary_ts: str, thread_ts: str, send_ids: Sequence[str]) -> None:
        """Note a send's summary and its recipients' order, before any outcome is shown."""
        await self._write_prepared(
            self._reply_sql.open_reply,
            {
                "channel_id": channel_id,
                "summary_ts": summary_ts,
                "thread_ts": thread_ts,
                "send_ids": json.dumps(list(send_ids)),
                "shown": "{}",
                "complete": 0,
                "owner": self.instance_id,
                "updated_at": _now(),
            },
        )

    async def reply_state(self, channel_id: str, summary_ts: str) -> ReplyState | None:
        prepared, values = self._reply_sql.reply_state, {"b_channel": channel_id, "b_summary": summary_ts}
        rows = await self._sync_reads.run(lambda conn: fetch(conn, prepared, values))
        return _state(rows[0]) if rows else None

    async def mark_shown(
        self, channel_id: str, summary_ts: str, *, reply_ts: str, shown: dict[str, str], complete: bool
    ) -> None:
        """Record what the reply now shows (after Slack accepted it)."""
        await self._write_prepared(
            self._reply_sql.mark_shown,
            {
                "b_channel": channel_id,
                "b_summary": summary_ts,
                "b_reply_ts": reply_ts,
                "b_shown": json.dumps(shown),
                "b_complete": int(complete),
                "b_stamp": _now(),
            },
        )

    async def reopen_reply(self, channel_id: str, summary_ts: str) -> None:
        """A recipient's outcome changes again (Retry): the reply is incomplete until it is shown."""
        await self._write(
            update(replies)
            .where(and_(replies.c.channel_id == channel_id, replies.c.summary_ts == summary_ts))
            .values(complete=0, owner=self.instance_id, updated_at=_now())
        )

    async def sends_in_order(self, send_ids: Sequence[str]) -> list[SendRecord]:
        """The sends, in the order given (missing ones left out)."""
        if not send_ids:
            return []
        values = in_values(send_ids)
        prepared = self._reply_sql.sends_with_schedules(len(values))
        if prepared is None:  # more ids than any prepared variant: through SQLAlchemy
            return await self._sends_in_order_slowly(send_ids)
        rows = await self._sync_reads.run(lambda conn: fetch(conn, prepared, values))
        by_id = {r.id: with_schedule(record_from_row(r), r if r.send_at is not None else None) for r in rows}
        return [by_id[i] for i in send_ids if i in by_id]

    async def _sends_in_order_slowly(self, send_ids: Sequence[str]) -> list[SendRecord]:
        def read(conn: Connection) -> tuple[Sequence[Row[Any]], dict[str, Any]]:
            rows = conn.execute(select(sends).where(sends.c.id.in_(list(send_ids)))).all()
            return rows, schedules_in(conn, send_ids)

        rows, schedules = await self._sync_reads.run(read)
        by_id = {r.id: with_schedule(record_from_row(r), schedules.get(r.id)) for r in rows}
        return [by_id[i] for i in send_ids if i in by_id]

    async def unshown_replies(self) -> list[ReplyState]:
        """Claim the incomplete replies of processes that are gone, for this process to show."""
        cutoff = _now() - timedelta(seconds=self.dead_after)
        alive = alive_since(cutoff)
        query = select(replies).where(
            and_(replies.c.complete == 0, replies.c.owner.not_in(alive), replies.c.owner != self.instance_id)
        )
        rows = await self._sync_reads.run(lambda conn: conn.execute(query).all())
        return [_state(row) for row in rows if await self._claim(row, replies.c.owner, replies.c.complete == 0)]

    async def statuses_due(self, channel_id: str, summary_ts: str, due: bool) -> None:
        """Note that the summary's delivery statuses need an edit (True), or that it was made (False)."""
        await self._write_prepared(
            self._reply_sql.statuses_due,
            {
                "b_channel": channel_id,
                "b_summary": summary_ts,
                "b_due": int(due),
                "b_owner": self.instance_id,
                "b_stamp": _now(),
            },
        )

    async def unshown_statuses(self) -> list[tuple[str, str]]:
        """Claim the summaries whose status edit a gone process left due: (channel, summary ts)."""
        cutoff = _now() - timedelta(seconds=self.dead_after)
        alive = alive_since(cutoff)
        query = select(replies.c.channel_id, replies.c.summary_ts, replies.c.statuses_owner).where(
            and_(replies.c.statuses_due == 1, replies.c.statuses_owner.not_in(alive))
        )
        rows = await self._sync_reads.run(lambda conn: conn.execute(query).all())
        return [
            (row.channel_id, row.summary_ts)
            for row in rows
            if await self._claim(row, replies.c.statuses_owner, replies.c.statuses_due == 1)
        ]

    async def _claim(self, row: Any, owner: Column[Any], still: ColumnElement[bool]) -> bool:
        """Take a gone process's row for this one (its `owner` column); False if another process took it
        first or it no longer needs doing (`still`)."""
        taken = await self._write(
            update(replies)
            .where(
                and_(
                    replies.c.channel_id == row.channel_id,
                    replies.c.summary_ts == row.summary_ts,
                    owner == getattr(row, owner.name),
                    still,
                )
            )
            .values({owner.name: self.instance_id, "updated_at": _now()})
        )
        return taken == 1

    async def live_instances(self) -> int:
        """How many bot processes are alive (beat within `dead_after`): for sharing Slack's rate limits."""
        cutoff = _now() - timedelta(seconds=self.dead_after)
        query = select(func.count()).where(instances.c.heartbeat_at > cutoff)
        count = await self._sync_reads.run(lambda conn: conn.execute(query).scalar())
        return max(1, int(count or 0))
