"""What the bot says about scheduled messages: the time (every reader in their own zone), the lines
in a send's outcome reply, the Cancel button, and `/sms scheduled`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.schedule import describe, zone_named
from bot.ledger import ScheduledSend, SendRecord
from bot.scheduling import Cancelled, CancelResult
from bot.slack.text import shown

Block = dict[str, Any]
CANCEL_SCHEDULED_ACTION = "cancel_scheduled"
MAX_LISTED_BUTTONS = 45  # Slack's 50 blocks per message, less the heading and notes
HOME_LISTED = 10  # on the Home tab (100 blocks shared with the inbox and recent sends): the soonest


def when_text(when: datetime) -> str:
    """Slack's date formatting, so each reader sees their own time; the fallback is the sender's."""
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{describe(when)}>"


def scheduled_note(when: datetime) -> str:
    """The summary's line: `Scheduled for Tue 1 Dec, 09:00 EST`."""
    return f":alarm_clock: Scheduled for {when_text(when)}"


def scheduled_line(record: SendRecord) -> str:
    when = f" for {when_text(record.schedule)}" if record.schedule is not None else ""
    return (
        f":alarm_clock: Scheduled{when} to {record.recipient}. Sociocs message id `{shown(record.message_id or '')}`. "
        "Cancel it any time before then."
    )


def cancelled_line(record: SendRecord) -> str:
    detail = f" ({shown(record.error)})" if record.error and not record.error.startswith("cancelled by") else ""
    who = f", {record.error}" if record.error and record.error.startswith("cancelled by") else ""
    return f":no_entry_sign: Cancelled{who}: not sent to {record.recipient}{detail}."


def cancel_button(send_id: str) -> Block:
    return {
        "type": "button",
        "action_id": CANCEL_SCHEDULED_ACTION,
        "text": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
        "value": send_id,
        "confirm": {
            "title": {"type": "plain_text", "text": "Cancel this message?"},
            "text": {"type": "mrkdwn", "text": "It will not be sent."},
            "confirm": {"type": "plain_text", "text": "Cancel it"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }


def cancel_outcome_text(result: CancelResult, user_id: str) -> str:
    """Said in the send's thread (or to the presser, for TRY_AGAIN)."""
    to = result.scheduled.record.recipient
    error = f": Sociocs said “{shown(result.error)}”" if result.error else ""
    match result.kind:
        case Cancelled.DONE:
            return f":no_entry_sign: <@{user_id}> cancelled the scheduled message to {to}. It will not be sent."
        case Cancelled.GONE:
            return f":no_entry_sign: The scheduled message to {to} was already cancelled in Sociocs."
        case Cancelled.REFUSED:
            return f":outbox_tray: Too late to cancel the message to {to}: it is being sent or was sent{error}."
        case Cancelled.TRY_AGAIN:
            return f":warning: Could not cancel the message to {to} just now{error}. Try again shortly."
    raise AssertionError(result.kind)


NOT_YOURS = "Only the person who scheduled that message, or an admin, can cancel it."
NOT_SCHEDULED = "That message is no longer scheduled (it was sent or cancelled), so there is nothing to cancel."


def pending_blocks(pending: list[ScheduledSend], *, checked: bool, everyone: bool) -> tuple[str, list[Block]]:
    """`/sms scheduled`: each message with its time and a Cancel button."""
    if not pending:
        text = "Nobody has scheduled messages waiting." if everyone else "You have no scheduled messages waiting."
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    title = "*Scheduled messages (everyone's)*" if everyone else "*Your scheduled messages*"
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    lines = [title]
    for item in pending[:MAX_LISTED_BUTTONS]:
        line = pending_line(item, everyone=everyone)
        lines.append(line)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": line}, "accessory": cancel_button(item.record.id)}
        )
    notes = []
    if len(pending) > MAX_LISTED_BUTTONS:
        notes.append(f"and {len(pending) - MAX_LISTED_BUTTONS} more, later")
    if not checked:
        notes.append("Sociocs could not be asked just now: some of these may have been cancelled there")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "; ".join(notes) + "."}]})
    return "\n".join(lines), blocks


def pending_line(item: ScheduledSend, *, everyone: bool = False) -> str:
    """One scheduled message: its time (each reader's own), recipient, sender (in everyone's list), text."""
    record = item.record
    when = item.send_at.astimezone(zone_named(item.zone))
    who = f" · by <@{record.user_id}>" if everyone and record.user_id else ""
    to = f"{shown(record.name)} ({record.recipient})" if record.name else record.recipient
    preview = shown((record.text or _what(record))[:80])
    return f"{when_text(when)} · {to}{who} · {preview}"


def _what(record: SendRecord) -> str:
    """What a scheduled message without text is: a template's name, or its media."""
    name = ((record.template or {}).get("template") or {}).get("name")
    return f"(template {name})" if name else "(media)"


def home_blocks(pending: list[ScheduledSend], *, checked: bool) -> list[Block]:
    """The Home tab's *Your scheduled messages*: the soonest HOME_LISTED, each with its Cancel button
    (the heading is the Home tab's); nothing at all when none wait."""
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": pending_line(item)[:2900], "verbatim": True},
            "accessory": cancel_button(item.record.id),
        }
        for item in pending[:HOME_LISTED]
    ]
    notes = []
    if len(pending) > HOME_LISTED:
        notes.append(f"and {len(pending) - HOME_LISTED} more, later: `/sms scheduled` lists them all")
    if pending and not checked:
        notes.append("Sociocs could not be asked just now: some of these may have been cancelled there")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "; ".join(notes) + "."}]})
    return blocks
