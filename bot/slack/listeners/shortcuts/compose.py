"""`send_as_sms` (message shortcut) opens the compose modal with the message's text and reports in that
message's thread; `compose_sms` (global shortcut) opens it with a destination picker."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.domain.media import message_attachments
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import open_compose, refuse
from bot.slack.text import decode
from bot.slack.views import ComposeContext, Prefill


async def send_as_sms(ack: AsyncAck, shortcut: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_open_from_message(bot, shortcut), name="open-from-message")


async def compose_sms(ack: AsyncAck, shortcut: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_open_global(bot, shortcut), name="open-compose")


async def _open_global(bot: Bot, shortcut: dict[str, Any]) -> None:
    trigger_id = str(shortcut.get("trigger_id"))
    problems = await bot.service.user_problems((shortcut.get("user") or {}).get("id"))
    if problems:
        await refuse(bot, trigger_id, problems)
        return
    await open_compose(bot, trigger_id, ComposeContext(origin="global"))


async def _open_from_message(bot: Bot, shortcut: dict[str, Any]) -> None:
    channel = (shortcut.get("channel") or {}).get("id")
    problems = await bot.service.who_may_send((shortcut.get("user") or {}).get("id"), channel)
    if problems:
        await refuse(bot, str(shortcut.get("trigger_id")), problems)
        return
    message = shortcut.get("message") or {}
    markup = str(message.get("text") or "")
    text = decode(markup, await bot.names.names_for(markup))
    attachments, notes = message_attachments(message.get("files"))
    context = ComposeContext(
        origin="message",
        channel=(shortcut.get("channel") or {}).get("id"),
        thread_ts=message.get("thread_ts") or message.get("ts"),
        attachments={a.file_id: a.kind for a in attachments} or None,
    )
    prefill = Prefill(text=text, attachments=attachments, attachment_notes=notes)
    await open_compose(bot, str(shortcut.get("trigger_id")), context, prefill)
