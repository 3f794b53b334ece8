"""Scheduled sends: when each is due, and its way out (sent, or cancelled and by whom).

A table of its own (`scheduled_sends`, created at start: no schema-version bump) beside `sends`,
whose `status` says `scheduled` once Sociocs took the message with a schedule and `cancelled` once it
was cancelled. Transitions are conditional UPDATEs, so two presses of Cancel, or Cancel racing a
status webhook, change a send once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Executable, String, Table, and_, insert, select, update

from bot.domain.schedule import zone_named
from bot.ledger._async import AsyncEngine
from bot.ledger._records import SendRecord, SendStatus, record_from_row
from bot.ledger._schema import events, metadata, sends

scheduled_sends = Table(
    "scheduled_sends",
    metadata,
    Column("send_id", String(32), primary_key=True),
    Column("send_at", DateTime(), nullable=False),  # naive UTC, as every time in the ledger
    Column("zone", String(64), nullable=False),  # the sender's IANA zone, to show the time as they read it
    Column("cancelled_by", String(32)),
    Column("cancelled_at", DateTime()),
)


@dataclass(frozen=True, slots=True)
class ScheduledSend:
    """A recorded send with its schedule."""

    record: SendRecord
    send_at: datetime  # aware, UTC
    zone: str
    cancelled_by: str | None = None


def with_schedule(record: SendRecord, row: Any | None) -> SendRecord:
    """The record with its schedule (a `scheduled_sends` row, or None for a send now)."""
    if row is None:
        return record
    return replace(record, schedule=row.send_at.replace(tzinfo=UTC).astimezone(zone_named(row.zone)))


def schedules_in(conn: Connection, send_ids: Sequence[str]) -> dict[str, Any]:
    """The `scheduled_sends` rows of those sends that have one (read in the reader's thread)."""
    rows = conn.execute(select(scheduled_sends).where(scheduled_sends.c.send_id.in_(list(send_ids))))
    return {r.send_id: r for r in rows}


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ScheduleMixin:
    """The Ledger's operations on scheduled sends (mixed into Ledger)."""

    _engine: AsyncEngine
    _reads: AsyncEngine
    _write: Callable[[Executable], Awaitable[int]]

    async def note_schedule(self, send_ids: Sequence[str], send_at: datetime, zone: str) -> None:
        """Write down when the sends are due, in the sender's zone (before Slack is answered)."""
        if send_ids:
            rows = [{"send_id": i, "send_at": _naive_utc(send_at), "zone": zone} for i in send_ids]
            await self._write(insert(scheduled_sends).values(rows))

    async def reschedule_zone(self, send_ids: Sequence[str], zone: str) -> None:
        """The sender's zone, once known (the form's picker is checked before the zone is looked up)."""
        await self._write(update(scheduled_sends).where(scheduled_sends.c.send_id.in_(send_ids)).values(zone=zone))

    async def _move(self, send_id: str, to: SendStatus, detail: str | None) -> bool:
        stamp = _now()
        moved = await self._write(
            update(sends)
            .where(and_(sends.c.id == send_id, sends.c.status == SendStatus.SCHEDULED.value))
            .values(status=to.value, updated_at=stamp, error=detail)
        )
        if moved:
            await self._write(
                insert(events).values(send_id=send_id, at=stamp, kind="status", status=to.value, detail=detail)
            )
        return moved == 1

    async def cancel_scheduled(self, send_id: str, by: str, detail: str) -> bool:
        """scheduled → cancelled, noting who; False when it was no longer scheduled."""
        if not await self._move(send_id, SendStatus.CANCELLED, detail):
            return False
        await self._write(
            update(scheduled_sends)
            .where(scheduled_sends.c.send_id == send_id)
            .values(cancelled_by=by, cancelled_at=_now())
        )
        return True

    async def scheduled_went(self, send_id: str, detail: str | None = None) -> bool:
        """scheduled → sent: Sociocs is sending it or sent it (it refused a cancel, or reported a status)."""
        return await self._move(send_id, SendStatus.SENT, detail)

    async def schedule_of(self, send_id: str) -> ScheduledSend | None:
        found = await self._scheduled(scheduled_sends.c.send_id == send_id)
        return found[0] if found else None

    async def pending_scheduled(self, user_id: str | None) -> list[ScheduledSend]:
        """Sends still scheduled (the person's, or everyone's for None), soonest first."""
        where = sends.c.status == SendStatus.SCHEDULED.value
        if user_id is not None:
            where = and_(where, sends.c.user_id == user_id)
        return await self._scheduled(where)

    async def _scheduled(self, where: object) -> list[ScheduledSend]:
        query = (
            select(sends, scheduled_sends.c.send_at, scheduled_sends.c.zone, scheduled_sends.c.cancelled_by)
            .join(scheduled_sends, scheduled_sends.c.send_id == sends.c.id)
            .where(where)  # type: ignore[arg-type]
            .order_by(scheduled_sends.c.send_at, sends.c.id)
            .limit(200)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ScheduledSend(record_from_row(r), r.send_at.replace(tzinfo=UTC), r.zone, r.cancelled_by) for r in rows]
