"""The compose modal submitted: the same draft checks and send path as the command."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.domain.draft import DraftError, Problem
from bot.sending import Accepted, Requester
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.send_later import in_senders_zone, when_from_picker
from bot.slack.listeners.views.attachments import fetch_then_deliver, schedule_attachments, with_attachments
from bot.slack.views import ComposeContext, raw_draft_from_state, state_destination, state_send_at


async def compose_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    bot = bot_of(context)
    values = view.get("state", {}).get("values", {})
    compose = ComposeContext.load(view.get("private_metadata"))
    destination = state_destination(values) if compose.has_destination_picker else compose.channel
    user = body.get("user", {})
    who = Requester(user.get("team_id"), user.get("id"), destination, f"modal-{compose.origin}")
    try:
        if not destination:
            raise DraftError([Problem("destination", "Choose where to post the result.")])
        raw, media_ids = await with_attachments(bot, raw_draft_from_state(values), values, compose.attachments)
        picked = state_send_at(values)
        if picked is not None:
            # An instant: checked now in the zone known so far (UTC until looked up after the answer).
            zone = bot.zones.cached(user.get("id")) or ZoneInfo("UTC")
            raw = replace(raw, send_at=when_from_picker(picked, zone))
        draft = bot.draft(raw)
        await schedule_attachments(bot, draft, media_ids)
        accepted = await bot.service.accept(
            draft,
            who,
            channel_field="destination" if compose.has_destination_picker else "text",
        )
    except DraftError as exc:
        await ack(response_action="errors", errors=inline_errors(exc, view))
        return
    await ack()
    bot.background.spawn(
        _deliver(bot, accepted, media_ids, destination, str(user.get("id")), compose.thread_ts),
        name="sms-modal",
    )


async def _deliver(
    bot: Bot, accepted: Accepted, media_ids: list[str], destination: str, user_id: str, thread_ts: str | None
) -> None:
    if accepted.draft.schedule is not None:
        accepted = await in_senders_zone(bot, accepted)
    if media_ids:
        await fetch_then_deliver(bot, accepted, media_ids, channel_id=destination, user_id=user_id, thread_ts=thread_ts)
    else:
        await bot.deliver(accepted, channel_id=destination, private=bot.direct_message(user_id), thread_ts=thread_ts)


def inline_errors(error: DraftError, view: dict[str, Any]) -> dict[str, str]:
    """Errors keyed by block; a problem with no block of its own in this view goes on the first input."""
    present = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    errors: dict[str, str] = {}
    for field, message in error.by_field().items():
        key = field if field in present else "provider"
        errors[key] = f"{errors[key]} {message}" if key in errors else message
    return errors
