"""Scheduled messages after they are scheduled: cancelling one, and listing those still pending.

Slack-free: it answers with typed results and raises typed errors; the Slack layer says them. Sociocs
is the authority on what is still scheduled (a message may be cancelled in Sociocs's own app), so the
list is reconciled with `GET /messages/scheduled` before it is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.ledger import Ledger, ScheduledSend, SendStatus
from bot.sociocs import ScheduledAtSociocs, SociocsClient, SociocsError

log = logging.getLogger("bot.schedule")

MAX_LISTED = 100  # GET /messages/scheduled lists at most this many, latest schedule first, no paging
IN_SOCIOCS = "cancelled in Sociocs"
# Missing from Sociocs's list this close to its time, a message is taken to be on its way, not cancelled.
SENDING_SOON = timedelta(minutes=5)


class NotYours(Exception):
    """Only the sender or an admin (ADMIN_USER_IDS) may cancel a scheduled message."""


class NotScheduled(Exception):
    """The send is not (or no longer) a scheduled message the bot can cancel."""


class Cancelled(StrEnum):
    DONE = "done"  # Sociocs cancelled it; the ledger says cancelled
    REFUSED = "refused"  # Sociocs will not (being sent, or sent): the ledger says sent
    GONE = "gone"  # already cancelled in Sociocs's own app: the ledger says cancelled
    TRY_AGAIN = "try_again"  # Sociocs could not be asked (429, 5xx, unreachable): nothing changed


@dataclass(frozen=True, slots=True)
class CancelResult:
    kind: Cancelled
    scheduled: ScheduledSend
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """The scheduled messages to show, and whether Sociocs confirmed them."""

    sends: list[ScheduledSend]
    checked: bool


class ScheduleService:
    def __init__(self, ledger: Ledger, sociocs: SociocsClient | None, admin_user_ids: frozenset[str]) -> None:
        """`sociocs` None is a dry run: nothing was scheduled at Sociocs, so nothing can be cancelled there."""
        self.ledger = ledger
        self._sociocs = sociocs
        self._admins = admin_user_ids

    def is_admin(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self._admins

    async def note_zone(self, send_ids: Sequence[str], zone: str) -> None:
        """The sender's zone, once known, for sends scheduled from an instant (the form's picker)."""
        await self.ledger.reschedule_zone(send_ids, zone)

    async def cancel(self, send_id: str, user_id: str) -> CancelResult:
        """Cancel a scheduled message for its sender or an admin.

        Raises NotYours for anyone else and NotScheduled when it is not scheduled any more.
        """
        scheduled = await self.ledger.schedule_of(send_id)
        if scheduled is None:
            raise NotScheduled(send_id)
        record = scheduled.record
        if record.user_id != user_id and not self.is_admin(user_id):
            raise NotYours(send_id)
        if record.status is not SendStatus.SCHEDULED or not record.message_id or self._sociocs is None:
            raise NotScheduled(send_id)
        answer = await self._sociocs.cancel_scheduled(record.message_id)
        if answer.cancelled:
            if not await self.ledger.cancel_scheduled(send_id, user_id, f"cancelled by <@{user_id}>"):
                raise NotScheduled(send_id)  # a status webhook or another press got there first
            log.info("scheduled send %s cancelled by %s", send_id, user_id)
            return CancelResult(Cancelled.DONE, scheduled)
        if not answer.refused:
            log.warning("scheduled send %s: Sociocs could not cancel it now (%s)", send_id, answer.http_status)
            return CancelResult(Cancelled.TRY_AGAIN, scheduled, answer.error)
        # Refused: either it is being sent or sent, or it was cancelled in Sociocs's own app. Ask Sociocs.
        if scheduled.send_at > datetime.now(UTC) + SENDING_SOON and await self._gone_from_sociocs(scheduled):
            await self.ledger.cancel_scheduled(send_id, user_id, IN_SOCIOCS)
            return CancelResult(Cancelled.GONE, scheduled, answer.error)
        await self.ledger.scheduled_went(send_id, answer.error)
        log.info("scheduled send %s: Sociocs refused to cancel it (%s)", send_id, answer.http_status)
        return CancelResult(Cancelled.REFUSED, scheduled, answer.error)

    async def _gone_from_sociocs(self, scheduled: ScheduledSend) -> bool:
        try:
            listed = await self._sociocs.list_scheduled() if self._sociocs is not None else None
        except SociocsError:
            return False
        return listed is not None and _absent(scheduled, {m.message_id for m in listed}, _earliest(listed, scheduled))

    async def pending(self, user_id: str, *, own: bool = False) -> Pending:
        """The person's scheduled messages still to go (an admin's: everyone's, unless `own`), soonest
        first.

        Those Sociocs no longer lists are settled first: cancelled (in Sociocs's own app) when their
        time is still ahead, sent when it has passed.
        """
        everyone = self.is_admin(user_id) and not own
        sends = await self.ledger.pending_scheduled(None if everyone else user_id)
        if self._sociocs is None or not sends:
            return Pending(sends, checked=self._sociocs is not None)
        try:
            listed = await self._sociocs.list_scheduled()
        except SociocsError as exc:
            log.warning("could not list scheduled messages at Sociocs: %s", exc)
            return Pending(sends, checked=False)
        ids = {m.message_id for m in listed}
        now = datetime.now(UTC)
        kept = []
        for s in sends:
            if s.send_at <= now:
                await self.ledger.scheduled_went(s.record.id)  # its time has passed: Sociocs sent it
            elif not _absent(s, ids, _earliest(listed, s)):
                kept.append(s)
            elif s.send_at > now + SENDING_SOON:
                await self.ledger.cancel_scheduled(s.record.id, "", IN_SOCIOCS)
            # else: on its way; its status webhook (or the next listing after its time) settles it
        return Pending(kept, checked=True)


def _earliest(listed: list[ScheduledAtSociocs], scheduled: ScheduledSend) -> datetime | None:
    """When the list is full (100), the earliest schedule it reaches: anything earlier may be cut off."""
    if len(listed) < MAX_LISTED:
        return None
    times = []
    for item in listed:
        try:
            times.append(datetime.fromisoformat(item.schedule).astimezone(UTC))
        except ValueError:
            continue
    return min(times) if times else scheduled.send_at + timedelta(days=1)


def _absent(scheduled: ScheduledSend, listed_ids: set[str], earliest: datetime | None) -> bool:
    """True when Sociocs's list proves the message is not scheduled there any more."""
    if scheduled.record.message_id in listed_ids:
        return False
    return earliest is None or scheduled.send_at >= earliest
