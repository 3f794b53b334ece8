"""`@bot your text` in a bridged thread: sent to the thread's customer.

Only a message that mentions the bot is sent; ordinary thread chatter never reaches the customer. In
a thread with several customers (a multi-recipient send, a "Send as SMS" to someone else), its author
chooses one with a button (`bot.slack.listeners.actions.mention_choice`), and nothing is sent until then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncBoltContext

from bot.domain.draft import DraftError
from bot.sending import Requester
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import accept_for, draft_for
from bot.slack.messages import CHOICE_TEXT, MAX_CHOICES, choice_blocks, refusal_text
from bot.slack.outbox import slack_call
from bot.slack.text import decode

log = logging.getLogger(__name__)


async def mentioned(event: dict[str, Any], context: AsyncBoltContext) -> None:
    # Returning acknowledges the event, so the mention is checked and recorded first: once Slack
    # has its answer, a crash cannot lose it. Only the sending and reporting run afterwards.
    bot = bot_of(context)
    delivery = await _mention(bot, event)
    if delivery is not None:
        bot.background.spawn(delivery, name="mention-reply")


async def _mention(bot: Bot, event: dict[str, Any]) -> Coroutine[Any, Any, None] | None:
    """Check and record a mention; the delivery to run afterwards, if there is one now."""
    channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
    if not channel or not thread_ts or not user:
        return None  # not in a thread: nothing to bridge
    channel, thread_ts, user = str(channel), str(thread_ts), str(user)

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await _whisper(bot, channel, user, text, blocks, thread_ts=thread_ts)

    customers = await bot.conversations.customers_of(channel, thread_ts)
    if not customers:
        await tell("This thread is not a conversation with a customer, so nothing was sent.")
        return None
    markup = re.sub(rf"<@{re.escape(bot.bot_user_id or '')}(\|[^>]*)?>", "", str(event.get("text") or ""), count=1)
    text = decode(markup, await bot.names.names_for(markup)).strip()
    requester = Requester(event.get("team"), user, channel, "mention")
    if len(customers) == 1:
        accepted = await accept_for(bot, customers[0], text, requester, tell)
        if accepted is None:
            return None
        return bot.deliver(accepted, channel_id=channel, private=tell, thread_ts=thread_ts)
    # Several customers: never guess. Check the text now, keep it, and let its author choose.
    try:
        draft_for(bot, customers[0], text)
    except DraftError as exc:
        await tell(refusal_text(exc))
        return None
    offered = customers[:MAX_CHOICES]
    mention_id = await bot.conversations.hold_mention(
        team_id=event.get("team"), user_id=user, channel_id=channel, thread_ts=thread_ts, text=text, customers=offered
    )
    log.info("mention %s in a thread with %d customers: asking %s to choose", mention_id, len(customers), user)
    await tell(CHOICE_TEXT, choice_blocks(mention_id, text, customers))
    return None


async def _whisper(
    bot: Bot,
    channel: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    thread_ts: str | None = None,
) -> None:
    await slack_call(
        bot.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts),
        f"answer {user} privately",
        level=logging.INFO,
    )
