"""**Assign to me** and **Close** on a conversation's first message: claimed in the ledger (one winner
across replicas), recorded in the thread, and the message redrawn. A refusal is told privately."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.domain.draft import DraftError
from bot.inbox import AlreadyAssigned, AlreadyClosed, ConversationGone, NotYourConversation
from bot.slack.context import Bot, bot_of
from bot.slack.conversation_view import ASSIGN_ACTION, desk_refusal_text
from bot.slack.conversations import SlackConversations
from bot.slack.messages import refusal_text
from bot.slack.report import ephemeral

log = logging.getLogger(__name__)


async def conversation_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_act(bot, body, action, respond), name="conversation-action")


async def _act(bot: Bot, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
    tell = ephemeral(respond)
    presser = str((body.get("user") or {}).get("id"))
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
    problems = await bot.service.who_may_send(presser, channel)
    if problems:
        await tell(refusal_text(DraftError(problems)))
        return
    assert bot.desk is not None
    assign = action.get("action_id") == ASSIGN_ACTION
    try:
        if assign:
            conversation = await bot.desk.assign(str(action.get("value")), presser)
        else:
            conversation = await bot.desk.close(str(action.get("value")), presser)
    except (ConversationGone, AlreadyAssigned, AlreadyClosed, NotYourConversation) as exc:
        await tell(desk_refusal_text(exc))
        return
    log.info("conversation %s %s by %s", conversation.id, "assigned" if assign else "closed", presser)
    await SlackConversations(bot).conversation_changed(conversation, "assigned" if assign else "closed", presser)
