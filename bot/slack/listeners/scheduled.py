"""`/sms scheduled`: the person's scheduled messages (an admin's: everyone's), reconciled with Sociocs."""

from __future__ import annotations

from bot.slack.context import Bot
from bot.slack.report import PrivateSink
from bot.slack.scheduled_text import pending_blocks


async def list_scheduled(bot: Bot, user_id: str, tell: PrivateSink) -> None:
    """After the acknowledgement: asking Sociocs what is still scheduled may take a while."""
    pending = await bot.scheduling.pending(user_id)
    text, blocks = pending_blocks(pending.sends, checked=pending.checked, everyone=bot.scheduling.is_admin(user_id))
    await tell(text, blocks)
