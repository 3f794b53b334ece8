"""Slack listeners, registered by kind: the slash command, and the compose modal with its shortcuts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncBoltContext

from bot.slack.context import Bot
from bot.slack.listeners import command, compose, replies, retry


def register_all(bot: Bot) -> None:
    @bot.app.middleware
    async def remember_bot_user(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        # Outcome messages invite people to add the bot by mention; learn its user id once.
        if bot.bot_user_id is None and context.bot_user_id:
            bot.bot_user_id = context.bot_user_id
        await next()

    command.register(bot)
    compose.register(bot)
    retry.register(bot)
    replies.register(bot)
