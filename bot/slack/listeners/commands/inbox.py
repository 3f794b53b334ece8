"""`/sms inbox`: privately, the open conversations (yours first, then unassigned, the longest waiting
first) with links to their threads, and Sociocs's unreplied messages that have no thread here."""

from __future__ import annotations

from bot.slack.context import Bot
from bot.slack.conversation_view import inbox_blocks
from bot.slack.home import link_maker
from bot.slack.report import PrivateSink


async def show_inbox(bot: Bot, user_id: str, tell: PrivateSink) -> None:
    if bot.desk is None:
        return
    inbox = await bot.desk.inbox(user_id)
    text, blocks = inbox_blocks(inbox, await link_maker(bot))
    await tell(text, blocks)
