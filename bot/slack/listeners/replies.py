"""Answering a customer from Slack: the Reply button, and `@bot your text` in a bridged thread.

Only a message that mentions the bot is sent; ordinary thread chatter never reaches the customer.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError

from bot.domain.draft import DraftError, RawDraft
from bot.domain.providers import Provider
from bot.sending import Requester
from bot.slack.app import Bot, problems_text
from bot.slack.conversations import REPLY_ACTION
from bot.slack.listeners.compose import open_compose
from bot.slack.text import decode
from bot.slack.views import ComposeContext, Prefill

log = logging.getLogger(__name__)


def register(bot: Bot) -> None:
    @bot.app.action(REPLY_ACTION)
    async def reply_pressed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        bot.background.spawn(_open_reply(bot, body, action), name="open-reply")

    @bot.app.event("app_mention")
    async def mentioned(event: dict[str, Any]) -> None:
        bot.background.spawn(_mention(bot, event), name="mention-reply")


async def _open_reply(bot: Bot, body: dict[str, Any], action: dict[str, Any]) -> None:
    try:
        target = json.loads(str(action.get("value")))
        provider, number = Provider(target["p"]), str(target["n"])
    except (ValueError, KeyError, TypeError):
        log.warning("a Reply button with an unreadable value")
        return
    message = body.get("message") or {}
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
    context = ComposeContext(origin="reply", channel=channel, thread_ts=message.get("thread_ts") or message.get("ts"))
    await open_compose(bot, str(body.get("trigger_id")), context, Prefill(provider=provider, recipients=[number]))


async def _mention(bot: Bot, event: dict[str, Any]) -> None:
    channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
    if not channel or not thread_ts or not user:
        return  # not in a thread: nothing to bridge
    conversation = await bot.ledger.conversation_in(str(channel), str(thread_ts))
    if conversation is None:
        await _whisper(bot, channel, user, "This thread is not a conversation with a customer, so nothing was sent.")
        return
    provider, _channel_key, number = conversation
    markup = re.sub(rf"<@{re.escape(bot.bot_user_id or '')}(\|[^>]*)?>", "", str(event.get("text") or ""), count=1)
    text = decode(markup, await bot.names.names_for(markup)).strip()
    try:
        draft = bot.draft(RawDraft(recipients=[number], text=text, provider=Provider(provider)))
        accepted = await bot.service.accept(
            draft, Requester(event.get("team"), user, channel, "mention"), channel_field="text"
        )
    except DraftError as exc:
        await _whisper(bot, channel, user, problems_text(exc))
        return

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await _whisper(bot, channel, user, text, blocks)

    await bot.deliver(accepted, channel_id=str(channel), private=tell, thread_ts=str(thread_ts))


async def _whisper(bot: Bot, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    try:
        await bot.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.info("could not answer %s privately: %s", user, exc.response.get("error"))
