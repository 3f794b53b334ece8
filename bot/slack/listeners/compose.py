"""The compose modal and the two shortcuts that open it.

`send_as_sms` (message shortcut) opens it with the message's text and reports in that message's
thread; `compose_sms` (global shortcut) and `/sms` without a message open it with a destination
picker. Submissions go through the same draft checks and send path as the command.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError

from bot.domain.draft import DraftError
from bot.slack.app import Bot
from bot.slack.text import decode
from bot.slack.views import (
    CALLBACK_ID,
    ComposeContext,
    Prefill,
    build_compose_view,
    raw_draft_from_state,
    state_destination,
    state_provider,
    state_text,
)

log = logging.getLogger(__name__)


def compose_view(bot: Bot, context: ComposeContext, prefill: Prefill | None, destination: str | None) -> dict[str, Any]:
    s = bot.settings
    providers = list(s.channel_keys) or ([s.default_provider] if s.default_provider else [])
    return build_compose_view(
        providers=providers,
        default_provider=s.default_provider,
        context=context,
        prefill=prefill,
        destination=destination,
        max_recipients=s.max_recipients,
    )


async def open_compose(
    bot: Bot, trigger_id: str, context: ComposeContext, prefill: Prefill | None = None, destination: str | None = None
) -> None:
    """views.open right after the acknowledgement, inside Slack's 3-second trigger window."""
    try:
        await bot.client.views_open(trigger_id=trigger_id, view=compose_view(bot, context, prefill, destination))
    except SlackApiError as exc:
        log.error("could not open the compose form: %s", exc.response.get("error"))


def register(bot: Bot) -> None:
    @bot.app.shortcut("send_as_sms")
    async def send_as_sms(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        bot.background.spawn(_open_from_message(bot, shortcut), name="open-from-message")

    @bot.app.shortcut("compose_sms")
    async def compose_sms(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        bot.background.spawn(
            open_compose(bot, str(shortcut.get("trigger_id")), ComposeContext(origin="global")), name="open-compose"
        )

    @bot.app.view(CALLBACK_ID)
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        context = ComposeContext.load(view.get("private_metadata"))
        try:
            draft = bot.draft(raw_draft_from_state(values))
        except DraftError as exc:
            await ack(response_action="errors", errors=exc.by_field())
            return
        destination = state_destination(values) if context.has_destination_picker else context.channel
        if not destination:
            await ack(response_action="errors", errors={"destination": "Choose where to post the result."})
            return
        await ack()
        user_id = body.get("user", {}).get("id")
        bot.background.spawn(
            bot.deliver(
                draft,
                channel_id=destination,
                sender_id=user_id,
                private=bot.direct_message(str(user_id)),
                thread_ts=context.thread_ts,
                via=f"modal-{context.origin}",
            ),
            name="sms-modal",
        )

    async def refresh(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Typing in Message (or changing the provider) updates the SMS segment count below it."""
        await ack()
        bot.background.spawn(_refresh(bot, body), name="compose-refresh")

    bot.app.block_action({"action_id": "text", "block_id": "text"})(refresh)
    bot.app.block_action({"action_id": "provider", "block_id": "provider"})(refresh)


async def _open_from_message(bot: Bot, shortcut: dict[str, Any]) -> None:
    message = shortcut.get("message") or {}
    markup = str(message.get("text") or "")
    text = decode(markup, await bot.names.names_for(markup))
    context = ComposeContext(
        origin="message",
        channel=(shortcut.get("channel") or {}).get("id"),
        thread_ts=message.get("thread_ts") or message.get("ts"),
    )
    await open_compose(bot, str(shortcut.get("trigger_id")), context, Prefill(text=text))


async def _refresh(bot: Bot, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    if view.get("callback_id") != CALLBACK_ID:
        return
    values = view.get("state", {}).get("values", {})
    prefill = Prefill(
        provider=state_provider(values),
        recipients=[state_text(values, "to")] if state_text(values, "to") else [],
        name=state_text(values, "name") or None,
        text=state_text(values, "text"),
        image_urls=[state_text(values, "images")] if state_text(values, "images") else [],
        file_url=state_text(values, "file") or None,
    )
    context = ComposeContext.load(view.get("private_metadata"))
    try:
        await bot.client.views_update(
            view_id=view.get("id"),
            hash=view.get("hash"),
            view=compose_view(bot, context, prefill, state_destination(values)),
        )
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":  # a newer keystroke already updated it
            log.warning("could not update the compose form: %s", exc.response.get("error"))
