"""The ledger's tables, and how a database URL becomes an async engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    pool,
    select,
)
from sqlalchemy.engine import URL, make_url

from bot.ledger._async import AsyncEngine, create_async_engine

SCHEMA_VERSION = 3
metadata = MetaData()

sends = Table(
    "sends",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("team_id", String(32)),
    Column("user_id", String(32)),
    Column("channel_id", String(32)),
    Column("thread_ts", String(32)),
    Column("summary_ts", String(32)),
    Column("provider", String(16), nullable=False),
    Column("channel_key", String(255), nullable=False),
    Column("recipient", String(20), nullable=False),
    Column("name", String(200)),
    Column("text", Text, nullable=False),
    Column("media", Text, nullable=False),  # JSON: {"image_urls": [...], "file_url": ...}
    Column("status", String(16), nullable=False),
    Column("message_id", String(128)),
    Column("error", Text),
    Column("http_status", Integer),
    Column("attempts", Integer, nullable=False),
    Column("via", String(32), nullable=False),
    Column("owner", String(32)),  # the process working on it, for crash recovery
    Column("retried_by", String(32)),
    Column("delivery_status", String(16)),  # the latest status Sociocs reported (sent, delivered, read, failed…)
    Column("delivery_error", Text),
    Index("ix_sends_user_created", "user_id", "created_at"),
    Index("ix_sends_message_id", "message_id"),
    Index("ix_sends_status", "status"),
    Index("ix_sends_recipient", "recipient"),
)

# Every attempt (for the rate limit) and every status change (for the record), with its time.
events = Table(
    "send_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("send_id", String(32), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("user_id", String(32)),
    Column("kind", String(16), nullable=False),  # "attempt" or "status"
    Column("status", String(40)),  # a send status, or "delivery:<status reported by Sociocs>"
    Column("detail", Text),
    Index("ix_events_send", "send_id"),
    Index("ix_events_user_kind_at", "user_id", "kind", "at"),
)

# Live processes: a send owned by a process that stopped beating is recovered by the others.
instances = Table(
    "instances",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("started_at", DateTime(), nullable=False),
    Column("heartbeat_at", DateTime(), nullable=False),
    # Who it is, so a restart on the same host can tell at once that its predecessor is gone.
    Column("host", String(255)),
    Column("pid", Integer),
)


def alive_since(cutoff: datetime | BindParameter[Any]) -> Select[Any]:
    """The ids of the processes that beat after `cutoff`: whatever another one owns is recoverable."""
    return select(instances.c.id).where(instances.c.heartbeat_at > cutoff)


# Status updates from Sociocs, kept even when they arrive before the send's own answer (and so before
# its message id is known); `applied` is claimed by whoever reports it in Slack, exactly once.
deliveries = Table(
    "delivery_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("applied", Integer, nullable=False),
    UniqueConstraint("message_id", "status", name="uq_delivery_message_status"),
)

# The Slack thread of the latest conversation with each number on each channel.
threads = Table(
    "threads",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("channel_key", String(255), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Index("ix_threads_slack", "channel_id", "thread_ts"),
)

# Every customer a Slack thread belongs to: each recipient of a send reported in it and each customer
# whose message was posted in it. A mention in a thread with several customers must ask, never guess.
thread_customers = Table(
    "thread_customers",
    metadata,
    Column("channel_id", String(32), primary_key=True),
    Column("thread_ts", String(32), primary_key=True),
    Column("provider", String(16), primary_key=True),
    Column("channel_key", String(255), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("name", String(200)),
    Column("added_at", DateTime(), nullable=False),
)

# A mention in a thread with several customers, waiting for its author to choose who gets it (the
# text can outgrow a button's value). `decision` is claimed once: "sent" or "cancelled". Deleted a day
# after it was held (`bot.conversations.MENTIONS_KEPT`, by the recovery sweep).
pending_mentions = Table(
    "pending_mentions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(), nullable=False),
    Column("team_id", String(32)),
    Column("user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("customers", Text, nullable=False),  # JSON: [[provider, channel key, number, name], ...]
    Column("decision", String(16)),
    Column("decided_at", DateTime()),
)

# Incoming customer messages already handled (Sociocs may deliver a webhook twice). Read only to drop
# such a duplicate: deleted a week after (`bot.conversations.INCOMING_KEPT`, by the recovery sweep).
incoming = Table(
    "incoming_messages",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("at", DateTime(), nullable=False),
    Column("number", String(20), nullable=False),
)

# Slack requests already handled, by event id or body fingerprint (Slack retries events; a signed
# request can be replayed within its signature window). Kept for an hour, then purged.
seen_requests = Table(
    "seen_requests",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("at", DateTime(), nullable=False),
    Index("ix_seen_requests_at", "at"),
)

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

# Upgrades from each older version, run in order at start (new tables come from create_all):
# (statement, the dialects it is for; None for all).
MIGRATIONS: dict[int, list[tuple[str, frozenset[str] | None]]] = {
    2: [
        ("ALTER TABLE sends ADD COLUMN delivery_status VARCHAR(16)", None),
        ("ALTER TABLE sends ADD COLUMN delivery_error TEXT", None),
        # SQLite does not enforce lengths (and cannot alter a column); PostgreSQL does.
        ("ALTER TABLE send_events ALTER COLUMN status TYPE VARCHAR(40)", frozenset({"postgresql"})),
    ],
    3: [
        ("ALTER TABLE instances ADD COLUMN host VARCHAR(255)", None),
        ("ALTER TABLE instances ADD COLUMN pid INTEGER", None),
        # Never written: where an incoming message was posted is kept in `threads`.
        ("ALTER TABLE incoming_messages DROP COLUMN channel_id", None),
        ("ALTER TABLE incoming_messages DROP COLUMN thread_ts", None),
    ],
}


READS_OPTION = "ledger_reads"  # execution option: a read-only use of the async engine (SQLite: deferred BEGIN)


def sqlite_file(url: URL) -> str | None:
    """The file of a SQLite URL (None: in memory, or not SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _sqlite(url: URL) -> URL:
    if (file := sqlite_file(url)) is not None:
        Path(file).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def _sqlite_setup(engine: Engine, *, checkpoints: bool = True) -> None:
    """WAL, and every transaction takes the write lock when it begins (BEGIN IMMEDIATE). Without
    `checkpoints` no commit checkpoints the log (`_checkpoint.py` does it in a thread of its own).

    Two connections write to the file (the async one and the group-commit writer's): a deferred
    transaction that read before writing could find its snapshot stale and fail at once with
    SQLITE_BUSY; an immediate one waits for the lock instead (busy_timeout).
    """

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        if not checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        # Reads (`READS` below) need no write lock and must not hold one across event-loop turns.
        statement = "BEGIN" if connection.get_execution_options().get(READS_OPTION) else "BEGIN IMMEDIATE"
        # On the driver's cursor: through exec_driver_sql it was a whole SQLAlchemy execution per
        # transaction (profiled). Its error is still SQLAlchemy's (wrapped, the connection invalidated
        # if the database went away), as the group commit's failure handling expects.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(statement)
        except Exception as exc:
            connection._handle_dbapi_exception(exc, statement, None, cursor, None)
        finally:
            cursor.close()


def engine_for(url: str) -> AsyncEngine:
    """An async engine for `sqlite:///…` (directory created) or `postgresql://…` (psycopg 3).

    Statement parameters (numbers, message texts, channel keys) never appear in errors or logs.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = _sqlite(parsed.set(drivername="sqlite+aiosqlite"))
        # One connection: SQLite has a single writer anyway, so transactions queue in the pool instead of
        # fighting over the file lock, and no connection (with its thread) is opened per operation.
        engine = create_async_engine(
            parsed,
            connect_args={"timeout": 15},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            hide_parameters=True,
        )
        _sqlite_setup(engine.sync_engine)
        return engine
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_async_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://…")


def writer_engine_for(url: str) -> Engine:
    """A synchronous engine for the group-commit writer's thread and the reader's (`_reader.py`): a
    whole transaction then costs the event loop one round trip instead of one per statement."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = sqlite_file(parsed) is None
        engine = create_engine(
            _sqlite(parsed.set(drivername="sqlite+pysqlite")),
            connect_args={"timeout": 15, "check_same_thread": False},
            poolclass=pool.SingletonThreadPool if in_memory else pool.QueuePool,
            hide_parameters=True,
        )
        # A file's log is checkpointed by `_checkpoint.Checkpointer` (Ledger), never by a commit.
        _sqlite_setup(engine, checkpoints=in_memory)
        return engine
    parsed = parsed.set(drivername="postgresql+psycopg")
    # The writer thread and the reader thread hold one connection each; one more spare.
    return create_engine(parsed, pool_size=2, max_overflow=1, pool_pre_ping=True, hide_parameters=True)
