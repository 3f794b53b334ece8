"""The statements every send runs, prepared once per dialect (see `_prepared.py` for why).

Each is written with named parameters only (no value that changes per call is written into the
statement), so one compiled form serves every call. Rare statements stay plain SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import DateTime, Dialect, String, Text, and_, bindparam, func, insert, or_, select, update

from bot.ledger._prepared import Prepared
from bot.ledger._records import SendStatus
from bot.ledger._schema import alive_since, events, instances, seen_requests, sends, thread_customers, threads
from bot.ledger._upsert import upsert_into

SEND_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "team_id",
    "user_id",
    "channel_id",
    "provider",
    "channel_key",
    "recipient",
    "name",
    "text",
    "media",
    "status",
    "attempts",
    "via",
    "owner",
)


STARTED_COLUMNS = (sends.c.id, sends.c.provider, sends.c.channel_key, sends.c.recipient, sends.c.status, sends.c.owner)
STARTED_CHUNK = 64  # ids per read of the sends a transaction marked pending (a power of two: see `arity`)


class HotStatements:
    """The prepared statements of one dialect (those of `slack_replies`: `_replies.ReplyStatements`)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        postgres = dialect.name == "postgresql"
        # A row back only when the key was new (RETURNING: the same on both databases).
        self.insert_key = Prepared(
            upsert_into(seen_requests, postgres=postgres).on_conflict_do_nothing().returning(seen_requests.c.key),
            dialect,
            column_keys=("key", "at"),
        )
        self.recent_attempts = Prepared(
            select(events.c.at)
            .where(
                and_(
                    events.c.user_id == bindparam("user_id", type_=String),
                    events.c.kind == "attempt",
                    events.c.at > bindparam("since", type_=DateTime()),
                )
            )
            .order_by(events.c.at),
            dialect,
        )
        self.insert_sends = Prepared(insert(sends), dialect, column_keys=SEND_COLUMNS)
        self.insert_attempts = Prepared(
            insert(events), dialect, column_keys=("send_id", "at", "user_id", "kind", "status")
        )
        self.insert_statuses = Prepared(
            insert(events), dialect, column_keys=("send_id", "at", "kind", "status", "detail")
        )
        self.start = Prepared(
            update(sends)
            .where(
                and_(
                    sends.c.id == bindparam("b_id", type_=String),
                    sends.c.owner == bindparam("b_owner", type_=String),
                    or_(sends.c.status == SendStatus.QUEUED.value, sends.c.status == SendStatus.PENDING.value),
                )
            )
            .values(
                status=SendStatus.PENDING.value,
                updated_at=bindparam("b_stamp", type_=DateTime()),
                attempts=sends.c.attempts + 1,
                text=func.coalesce(bindparam("b_text", type_=Text), sends.c.text),
                name=func.coalesce(bindparam("b_name", type_=String), sends.c.name),
                channel_id=func.coalesce(bindparam("b_channel", type_=String), sends.c.channel_id),
                thread_ts=func.coalesce(bindparam("b_thread", type_=String), sends.c.thread_ts),
                summary_ts=func.coalesce(bindparam("b_summary", type_=String), sends.c.summary_ts),
            ),
            dialect,
        )
        self._started_in: dict[int, Prepared] = {}
        joined = upsert_into(thread_customers, postgres=postgres)
        self.join_thread = Prepared(
            joined.on_conflict_do_nothing(),
            dialect,
            column_keys=("channel_id", "thread_ts", "provider", "channel_key", "number", "added_at"),
        )
        latest = upsert_into(threads, postgres=postgres)
        self.latest_thread = Prepared(
            latest.on_conflict_do_update(
                index_elements=[threads.c.provider, threads.c.channel_key, threads.c.number],
                set_={
                    "channel_id": latest.excluded.channel_id,
                    "thread_ts": latest.excluded.thread_ts,
                    "updated_at": latest.excluded.updated_at,
                },
            ),
            dialect,
            column_keys=("provider", "channel_key", "channel_id", "thread_ts", "number", "updated_at"),
        )
        self.finish = Prepared(
            update(sends)
            .where(sends.c.id == bindparam("b_id", type_=String))
            .values(
                status=bindparam("b_status", type_=String),
                message_id=bindparam("b_message_id", type_=String),
                error=bindparam("b_error", type_=Text),
                http_status=bindparam("b_http_status", type_=sends.c.http_status.type),
                updated_at=bindparam("b_stamp", type_=DateTime()),
            ),
            dialect,
        )

        # The recovery sweep's statements (every DEAD_AFTER_SECONDS / 2, usually finding nothing): through
        # the async engine, one sweep's recover() cost 6.6 ms of CPU (#18).
        self.beat = Prepared(
            update(instances)
            .where(instances.c.id == bindparam("b_id", type_=String))
            .values(heartbeat_at=bindparam("b_stamp", type_=DateTime())),
            dialect,
        )
        alive = alive_since(bindparam("b_cutoff", type_=DateTime()))
        unfinished = or_(sends.c.status == SendStatus.QUEUED.value, sends.c.status == SendStatus.PENDING.value)
        self.orphans = Prepared(select(sends).where(and_(unfinished, sends.c.owner.not_in(alive))), dialect)
        self.gone = Prepared(
            select(instances.c.id).where(instances.c.heartbeat_at <= bindparam("b_cutoff", type_=DateTime())).limit(1),
            dialect,
        )

    def started_in(self, count: int) -> Prepared:
        """`started` for `count` ids at once (`i0`…; `count` an `arity`, at most STARTED_CHUNK): one
        statement for a transaction's marks instead of one per send (#18). Prepared on first use."""
        prepared = self._started_in.get(count)
        if prepared is None:
            ids = [bindparam(f"i{n}", type_=String) for n in range(count)]
            prepared = self._started_in[count] = Prepared(
                select(*STARTED_COLUMNS).where(sends.c.id.in_(ids)), self.dialect
            )
        return prepared
