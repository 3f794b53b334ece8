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

from bot.domain.draft import DraftError, Problem
from bot.sending import Requester
from bot.slack.context import Bot
from bot.slack.text import decode
from bot.slack.views import (
    CALLBACK_ID,
    ComposeContext,
    Prefill,
    build_compose_view,
    raw_draft_from_state,
    refusal_view,
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
        bot.background.spawn(_open_global(bot, shortcut), name="open-compose")

    @bot.app.view(CALLBACK_ID)
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        context = ComposeContext.load(view.get("private_metadata"))
        destination = state_destination(values) if context.has_destination_picker else context.channel
        user = body.get("user", {})
        who = Requester(user.get("team_id"), user.get("id"), destination, f"modal-{context.origin}")
        try:
            if not destination:
                raise DraftError([Problem("destination", "Choose where to post the result.")])
            accepted = await bot.service.accept(
                bot.draft(raw_draft_from_state(values)),
                who,
                channel_field="destination" if context.has_destination_picker else "text",
            )
        except DraftError as exc:
            await ack(response_action="errors", errors=inline_errors(exc, view))
            return
        await ack()
        bot.background.spawn(
            bot.deliver(
                accepted,
                channel_id=destination,
                private=bot.direct_message(str(user.get("id"))),
                thread_ts=context.thread_ts,
            ),
            name="sms-modal",
        )

    async def refresh(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Typing in Message (or changing the provider) updates the SMS segment count below it."""
        await ack()
        bot.background.spawn(_refresh(bot, body), name="compose-refresh")

    bot.app.block_action({"action_id": "text", "block_id": "text"})(refresh)
    bot.app.block_action({"action_id": "provider", "block_id": "provider"})(refresh)


def inline_errors(error: DraftError, view: dict[str, Any]) -> dict[str, str]:
    """Errors keyed by block; a problem with no block of its own in this view goes on the first input."""
    present = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    errors: dict[str, str] = {}
    for field, message in error.by_field().items():
        key = field if field in present else "provider"
        errors[key] = f"{errors[key]} {message}" if key in errors else message
    return errors


async def _refuse(bot: Bot, trigger_id: str, problems: list[Problem]) -> None:
    try:
        await bot.client.views_open(trigger_id=trigger_id, view=refusal_view([p.message for p in problems]))
    except SlackApiError as exc:
        log.error("could not show the refusal: %s", exc.response.get("error"))


async def _open_global(bot: Bot, shortcut: dict[str, Any]) -> None:
    trigger_id = str(shortcut.get("trigger_id"))
    problem = await bot.service.guardrails.user_problem((shortcut.get("user") or {}).get("id"))
    if problem is not None:
        await _refuse(bot, trigger_id, [problem])
        return
    await open_compose(bot, trigger_id, ComposeContext(origin="global"))


async def _open_from_message(bot: Bot, shortcut: dict[str, Any]) -> None:
    channel = (shortcut.get("channel") or {}).get("id")
    problems = await bot.service.who_may_send((shortcut.get("user") or {}).get("id"), channel)
    if problems:
        await _refuse(bot, str(shortcut.get("trigger_id")), problems)
        return
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
