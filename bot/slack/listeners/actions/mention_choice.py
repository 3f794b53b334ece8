"""A button of the choice offered for a mention in a thread with several customers: send the held
mention to that customer (once, whoever presses first), or cancel it."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.conversations import AlreadyChosen, ChoiceExpired, MentionGone, NotYourChoice
from bot.domain.phone import mask
from bot.sending import Accepted, Requester
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.common import accept_for
from bot.slack.messages import customer_label, refusal_text
from bot.slack.report import ephemeral

log = logging.getLogger(__name__)


async def choice_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_choose(bot, body, action, respond), name="mention-choice")


async def _choose(bot: Bot, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
    try:
        value = json.loads(str(action.get("value")))
        mention_id, index = str(value["m"]), value.get("i")
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("a mention choice with an unreadable value")
        return
    presser = str((body.get("user") or {}).get("id"))
    tell = ephemeral(respond)
    try:
        choice = await bot.conversations.choose(mention_id, index, presser)
    except (MentionGone, ChoiceExpired, NotYourChoice, AlreadyChosen) as exc:
        await tell(refusal_text(exc))
        return
    if choice.customer is None:
        await respond(text="Cancelled: nothing was sent.", replace_original=True)
        return
    pending, customer = choice.mention, choice.customer
    requester = Requester(pending.team_id, presser, pending.channel_id, "mention")
    accepted: Accepted | None = None
    try:
        accepted = await accept_for(bot, customer, pending.text, requester, tell)
    finally:
        if accepted is None:  # refused (or the ledger failed): nothing went out, so they may choose again
            await bot.conversations.release(mention_id)
    if accepted is None:
        return
    log.info("mention %s: %s chose %s", mention_id, presser, mask(customer.number))
    try:
        label = customer_label(customer, provider=True)
        await respond(text=f"Sent to {label}: the outcome follows in the thread.", replace_original=True)
    except Exception:  # the send is recorded: it goes out whether or not the choice can be replaced
        log.warning("could not replace the choice of mention %s", mention_id)
    await bot.deliver(accepted, channel_id=pending.channel_id, private=tell, thread_ts=pending.thread_ts)
