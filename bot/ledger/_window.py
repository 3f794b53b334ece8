"""When each customer last wrote on each channel: WhatsApp's 24-hour window opens with their message.

One row per (channel key, number), holding the latest time a message from that number arrived on
that channel, written when the incoming-message webhook is recorded. A new table: created at start,
no schema-version bump needed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, Table, and_, select

from bot.ledger._async import AsyncEngine
from bot.ledger._schema import metadata
from bot.ledger._upsert import upsert_into

customer_writes = Table(
    "customer_writes",
    metadata,
    Column("channel_key", String(255), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("last_at", DateTime(), nullable=False),  # naive UTC, like every time in the ledger
)


class WindowMixin:
    """The Ledger's operations on `customer_writes` (mixed into Ledger)."""

    _engine: AsyncEngine
    _reads: AsyncEngine

    async def note_customer_write(self, channel_key: str, number: str, at: datetime) -> None:
        """Note that `number` wrote on `channel_key` at `at` (naive UTC); an older time changes nothing."""
        postgres = self._engine.dialect.name == "postgresql"
        new = upsert_into(customer_writes, postgres=postgres).values(channel_key=channel_key, number=number, last_at=at)
        upsert = new.on_conflict_do_update(
            index_elements=[customer_writes.c.channel_key, customer_writes.c.number],
            set_={"last_at": new.excluded.last_at},
            where=customer_writes.c.last_at < new.excluded.last_at,
        )
        async with self._engine.begin() as conn:
            await conn.execute(upsert)

    async def last_written(self, channel_key: str, number: str) -> datetime | None:
        """When `number` last wrote on `channel_key` (naive UTC), or None if never (as far as we know)."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(customer_writes.c.last_at).where(
                        and_(customer_writes.c.channel_key == channel_key, customer_writes.c.number == number)
                    )
                )
            ).first()
        return row.last_at if row else None
