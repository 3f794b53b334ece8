"""*Send a template* under a WhatsApp message refused outside the 24-hour window: the compose form,
addressed to that customer on that provider, with the template choice, reporting in the same thread."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.domain.providers import Provider
from bot.sending import UnknownSend
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import open_compose
from bot.slack.views import ComposeContext, Prefill

log = logging.getLogger(__name__)


async def template_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_open(bot, body, action), name="open-template-form")


async def _open(bot: Bot, body: dict[str, Any], action: dict[str, Any]) -> None:
    try:
        send_id = str(json.loads(str(action.get("value")))["s"])
        record = await bot.service.find(send_id)
    except (ValueError, KeyError, TypeError, UnknownSend):
        log.warning("a Send a template button for an unknown send")
        return
    message = body.get("message") or {}
    channel = record.channel_id or (body.get("container") or {}).get("channel_id")
    thread = record.thread_ts or record.summary_ts or message.get("thread_ts") or message.get("ts")
    compose = ComposeContext(origin="reply", channel=channel, thread_ts=thread)
    provider = Provider(record.provider)
    offered = bot.service.rules.templates.for_provider(provider)
    prefill = Prefill(
        provider=provider,
        recipients=[record.recipient],
        name=record.name,
        template=offered[0].name if len(offered) == 1 else None,  # the only choice, chosen
    )
    await open_compose(bot, str(body.get("trigger_id")), compose, prefill)
