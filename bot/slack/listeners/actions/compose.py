"""Typing in the compose modal's Message (or changing its provider) updates the SMS segment count."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.slack.attachment_blocks import carry_message_files
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import compose_view, with_window
from bot.slack.outbox import slack_call
from bot.slack.views import (
    CALLBACK_ID,
    ComposeContext,
    Prefill,
    state_destination,
    state_provider,
    state_recipients,
    state_save_contact,
    state_send_at,
    state_text,
    state_to_chosen,
)
from bot.slack.whatsapp import state_template, state_template_values

log = logging.getLogger(__name__)


async def compose_changed(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_refresh(bot, body), name="compose-refresh")


async def _refresh(bot: Bot, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    if view.get("callback_id") != CALLBACK_ID:
        return
    values = view.get("state", {}).get("values", {})
    prefill = Prefill(
        provider=state_provider(values),
        recipients=[number for number, _ in state_recipients(values)],
        to_chosen=state_to_chosen(values),
        name=state_text(values, "name") or None,
        text=state_text(values, "text"),
        image_urls=[state_text(values, "images")] if state_text(values, "images") else [],
        file_url=state_text(values, "file") or None,
        template=state_template(values),
        template_values=state_template_values(values),
        video_url=state_text(values, "video") or None,
        send_at=state_send_at(values),
        save_contact=state_save_contact(values),
    )
    context = ComposeContext.load(view.get("private_metadata"))
    windowed = await with_window(bot, prefill)
    if windowed is not None and windowed.window:
        prefill = prefill.model_copy(update={"window": windowed.window})
    await slack_call(
        bot.client.views_update(
            view_id=view.get("id"),
            hash=view.get("hash"),
            view=carry_message_files(view, compose_view(bot, context, prefill, state_destination(values))),
        ),
        "update the compose form",
        level=logging.WARNING,
        expected={"hash_conflict"},  # a newer keystroke already updated it
        expected_level=logging.DEBUG,
    )
