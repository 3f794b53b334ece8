"""`app_home_opened`: publish the person's Home tab (and keep it fresh while this process runs)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.slack.context import bot_of
from bot.slack.home import publish_home


async def home_opened(ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    if event.get("tab", "home") != "home" or not event.get("user"):
        return  # the Messages tab, or nothing to publish for
    bot = bot_of(context)
    user_id = str(event["user"])
    bot.home_opened(user_id)
    bot.background.spawn(publish_home(bot, user_id), name="home")
