"""Send later from the command and the form: WHEN read in the sender's zone, then the usual checks.

The zone comes from Slack (users.info, cached): a command looks it up before the acknowledgement, within
ZONE_BUDGET of Slack's 3 s, so the send is recorded before Slack hears "ok"; when Slack cannot tell in
time, the command is refused (nothing recorded, nothing acknowledged as scheduled).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.domain.draft import DraftError, Problem, RawDraft
from bot.domain.schedule import ScheduleError, check_window, from_epoch, parse_when, read_when
from bot.sending import Accepted, Requester, with_draft
from bot.slack.context import Bot
from bot.slack.messages import refusal_text
from bot.slack.zones import ZoneUnknown

log = logging.getLogger(__name__)


def now() -> datetime:
    """The moment WHEN is read at (tests move it to summer or winter)."""
    return datetime.now(UTC)


ZONE_UNKNOWN = (
    ":warning: I could not read your time zone from Slack just now, so nothing was scheduled or sent. "
    "Try again shortly."
)
ZONE_BUDGET = 1.5  # seconds for users.info before the acknowledgement (Slack waits 3 s for it)


async def zone_before_ack(bot: Bot, user_id: str | None) -> ZoneInfo:
    """The sender's zone, cached or asked of Slack within ZONE_BUDGET: ZoneUnknown when Slack cannot say."""
    return await bot.zones.zone_within(bot.names.user, str(user_id), ZONE_BUDGET)


def _refusal(exc: ScheduleError, text: str | None = None) -> DraftError:
    hint = ""
    if text is not None and " " not in text.strip():
        hint = ' Quote WHEN when it has spaces: --at "tomorrow 9am".'
    return DraftError([Problem("send_at", f"Send at: {exc}{hint}")])


def check_readable(text: str) -> None:
    """Refuse an unreadable WHEN before anything else (any zone reads the same forms): DraftError."""
    try:
        read_when(text, ZoneInfo("UTC"), now())
    except ScheduleError as exc:
        raise _refusal(exc, text) from None


def when_from_text(text: str, zone: ZoneInfo) -> datetime:
    try:
        return parse_when(text, zone, now())
    except ScheduleError as exc:
        raise _refusal(exc, text) from None


def when_from_picker(epoch: int | float, zone: ZoneInfo) -> datetime:
    try:
        return from_epoch(epoch, zone, now())
    except ScheduleError as exc:
        raise _refusal(exc) from None


def still_ahead(when: datetime | None) -> None:
    """A time read earlier (before a contact lookup or a choice) is checked again now: DraftError once
    it is past or too near. Nothing to check for a send now (None)."""
    if when is None:
        return
    try:
        check_window(when, now())
    except ScheduleError as exc:
        raise _refusal(exc) from None


async def in_senders_zone(bot: Bot, accepted: Accepted) -> Accepted:
    """The form's picked time (an instant, checked in UTC before the acknowledgement) in the sender's
    zone, so the payload carries their offset and the summary their local time."""
    when = accepted.draft.schedule
    user = accepted.requester.user_id
    if when is None or user is None:
        return accepted
    try:
        zone = await bot.zones.zone_of(bot.names.user, user)
    except ZoneUnknown:
        return accepted  # the same instant, shown in UTC
    try:
        await bot.scheduling.note_zone(accepted.send_ids, zone.key)
    except Exception:
        log.warning("could not note the sender's zone of %s; it is shown in UTC", accepted.send_ids)
    return with_draft(accepted, replace(accepted.draft, schedule=when.astimezone(zone)))


def refused_before_ack(exc: ZoneUnknown | DraftError) -> str:
    """What the acknowledgement says when `--at WHEN` (or the draft it goes with) is refused."""
    return ZONE_UNKNOWN if isinstance(exc, ZoneUnknown) else refusal_text(exc)


async def when_before_ack(bot: Bot, text: str, user_id: str | None) -> datetime:
    """`--at WHEN` read as a send reads it before the acknowledgement: readable first, then in the sender's
    zone (looked up within ZONE_BUDGET) and within the limits. DraftError or ZoneUnknown if not."""
    check_readable(text)
    return when_from_text(text, await zone_before_ack(bot, user_id))


async def accept_later(bot: Bot, raw: RawDraft, when: str, zone: ZoneInfo, who: Requester) -> Accepted:
    """The draft for WHEN in `zone`, through every guardrail and the rate limit, recorded; DraftError if not."""
    return await bot.service.accept(bot.draft(replace(raw, send_at=when_from_text(when, zone))), who)
