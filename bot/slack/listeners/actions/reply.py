"""The Reply button under a customer's message: the compose modal, addressed to that customer."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.domain.providers import Provider
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import open_compose
from bot.slack.views import ComposeContext, Prefill

log = logging.getLogger(__name__)


async def reply_pressed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_open_reply(bot, body, action), name="open-reply")


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
