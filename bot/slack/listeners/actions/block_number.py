"""The Block button under a customer's opt-out message: admins block the number in Sociocs in one click."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.slack.contact_texts import NOT_ADMIN
from bot.slack.context import bot_of
from bot.slack.listeners.commands.contacts import set_blocked
from bot.slack.report import ephemeral

log = logging.getLogger(__name__)


async def block_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    tell = ephemeral(respond)
    presser = str((body.get("user") or {}).get("id"))
    if presser not in bot.settings.admin_user_ids:
        await tell(NOT_ADMIN)
        return
    try:
        number = "+" + "".join(ch for ch in str(json.loads(str(action.get("value")))["n"]) if ch.isdigit())
    except (ValueError, KeyError, TypeError):
        log.warning("a Block button with an unreadable value")
        return
    message = body.get("message") or {}
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
    thread_ts = message.get("thread_ts") or message.get("ts")
    bot.background.spawn(set_blocked(bot, number, True, presser, str(channel), thread_ts, tell), name="block-button")
