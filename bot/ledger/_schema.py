"""The ledger's tables, and how a database URL becomes an async engine."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SCHEMA_VERSION = 1
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
    Column("status", String(16)),
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
)

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))


def engine_for(url: str) -> AsyncEngine:
    """An async engine for `sqlite:///…` (directory created) or `postgresql://…` (psycopg 3)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_async_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://…")
