"""Answering a customer from Slack: the Reply button, and `@bot your text` in a bridged thread.

Only a message that mentions the bot is sent; ordinary thread chatter never reaches the customer. A
mention goes to the thread's customer; in a thread with several (a multi-recipient send, a "Send as
SMS" to someone else), its author chooses one with a button, and nothing is sent until then.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.domain.draft import Draft, DraftError, RawDraft
from bot.domain.phone import mask
from bot.domain.providers import Provider
from bot.ledger import ThreadCustomer
from bot.sending import Accepted, Requester
from bot.slack.context import Bot
from bot.slack.conversations import REPLY_ACTION
from bot.slack.listeners.compose import open_compose
from bot.slack.messages import problems_text, quote_blocks
from bot.slack.report import PrivateSink
from bot.slack.text import decode, escape
from bot.slack.views import ComposeContext, Prefill

log = logging.getLogger(__name__)

CHOICE_TEXT = "This thread has several customers: who should get it?"
CHOOSE_PREFIX = "mention_to_"
CANCEL_ACTION = "mention_cancel"
MAX_CHOICES = 10
CHOICE_LIFETIME = timedelta(minutes=30)  # as long as Slack keeps the response_url; stale choices send nothing
ALREADY = "Someone already chose for that message (or cancelled it), so nothing more was sent."


def register(bot: Bot) -> None:
    @bot.app.action(REPLY_ACTION)
    async def reply_pressed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        bot.background.spawn(_open_reply(bot, body, action), name="open-reply")

    @bot.app.event("app_mention")
    async def mentioned(event: dict[str, Any]) -> None:
        # Returning acknowledges the event, so the mention is checked and recorded first: once Slack
        # has its answer, a crash cannot lose it. Only the sending and reporting run afterwards.
        delivery = await _mention(bot, event)
        if delivery is not None:
            bot.background.spawn(delivery, name="mention-reply")

    @bot.app.action(re.compile(rf"^({re.escape(CHOOSE_PREFIX)}\d+|{CANCEL_ACTION})$"))
    async def choice_pressed(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        bot.background.spawn(_choose(bot, body, action, respond), name="mention-choice")


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


async def _mention(bot: Bot, event: dict[str, Any]) -> Coroutine[Any, Any, None] | None:
    """Check and record a mention; the delivery to run afterwards, if there is one now."""
    channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
    if not channel or not thread_ts or not user:
        return None  # not in a thread: nothing to bridge
    channel, thread_ts, user = str(channel), str(thread_ts), str(user)

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await _whisper(bot, channel, user, text, blocks, thread_ts=thread_ts)

    customers = _distinct(await bot.ledger.thread_customers(channel, thread_ts))
    if not customers:
        await tell("This thread is not a conversation with a customer, so nothing was sent.")
        return None
    markup = re.sub(rf"<@{re.escape(bot.bot_user_id or '')}(\|[^>]*)?>", "", str(event.get("text") or ""), count=1)
    text = decode(markup, await bot.names.names_for(markup)).strip()
    requester = Requester(event.get("team"), user, channel, "mention")
    if len(customers) == 1:
        accepted = await _accept(bot, customers[0], text, requester, tell)
        if accepted is None:
            return None
        return bot.deliver(accepted, channel_id=channel, private=tell, thread_ts=thread_ts)
    # Several customers: never guess. Check the text now, keep it, and let its author choose.
    try:
        _draft_for(bot, customers[0], text)
    except DraftError as exc:
        await tell(problems_text(exc))
        return None
    offered = customers[:MAX_CHOICES]
    mention_id = await bot.ledger.hold_mention(
        team_id=event.get("team"), user_id=user, channel_id=channel, thread_ts=thread_ts, text=text, customers=offered
    )
    log.info("mention %s in a thread with %d customers: asking %s to choose", mention_id, len(customers), user)
    await tell(CHOICE_TEXT, choice_blocks(mention_id, text, customers))
    return None


def _draft_for(bot: Bot, customer: ThreadCustomer, text: str) -> Draft:
    return bot.draft(RawDraft(recipients=[customer.number], text=text, provider=Provider(customer.provider)))


async def _accept(
    bot: Bot, customer: ThreadCustomer, text: str, requester: Requester, tell: PrivateSink
) -> Accepted | None:
    """The mention's text for one customer through every check, recorded; None (and told) if refused."""
    try:
        return await bot.service.accept(_draft_for(bot, customer, text), requester, channel_field="text")
    except DraftError as exc:
        await tell(problems_text(exc))
        return None


def _distinct(customers: list[ThreadCustomer]) -> list[ThreadCustomer]:
    """One entry per number and provider: a send goes out with the provider's configured channel key."""
    seen: dict[tuple[str, str], ThreadCustomer] = {}
    for c in customers:
        seen.setdefault((c.provider, c.number), c)
    return list(seen.values())


def customer_label(customer: ThreadCustomer, *, provider: bool = False) -> str:
    """`+16175551212 (Ann Lee)`, as the summaries show recipients (the name escaped); with `provider`,
    `… on WhatsApp (Twilio)` too."""
    label = customer.number + (f" ({escape(customer.name)})" if customer.name else "")
    return label + (f" on {Provider(customer.provider).label}" if provider else "")


def choice_blocks(mention_id: str, text: str, customers: list[ThreadCustomer]) -> list[dict[str, Any]]:
    """The question, the text waiting, and one button per customer (at most MAX_CHOICES) and Cancel.

    Buttons carry the held mention's id and the customer's place in it, never the text (a button's
    value holds 2,000 characters) nor the number: only what the ledger kept can be chosen.
    """
    offered = customers[:MAX_CHOICES]
    several_providers = len({c.provider for c in offered}) > 1  # one number may be on SMS and WhatsApp
    listed = "\n".join(
        f"• *{c.number}*" + (f" ({escape(c.name)})" if c.name else "") + f" on {Provider(c.provider).label}"
        for c in offered
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":busts_in_silhouette: {CHOICE_TEXT}\n{listed}"}},
        *quote_blocks(text),
    ]
    if len(customers) > len(offered):
        more = len(customers) - len(offered)
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"…and {more} more: answer them with the Reply button under their message.",
                    }
                ],
            }
        )
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": f"{CHOOSE_PREFIX}{i}",
            "text": {"type": "plain_text", "text": _clip(customer_label(c, provider=several_providers), 75)},
            "value": json.dumps({"m": mention_id, "i": i}),
        }
        for i, c in enumerate(offered)
    ]
    buttons.append(
        {
            "type": "button",
            "action_id": CANCEL_ACTION,
            "text": {"type": "plain_text", "text": "Cancel"},
            "value": json.dumps({"m": mention_id}),
        }
    )
    blocks.append({"type": "actions", "block_id": "mention_choice", "elements": buttons})
    return blocks[:50]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _choose(bot: Bot, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
    """A button of the choice: send the held mention to that customer (once), or cancel it."""
    try:
        value = json.loads(str(action.get("value")))
        mention_id, index = str(value["m"]), value.get("i")
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("a mention choice with an unreadable value")
        return
    presser = str((body.get("user") or {}).get("id"))

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    pending = await bot.ledger.pending_mention(mention_id)
    if pending is None or (index is not None and not (isinstance(index, int) and 0 <= index < len(pending.customers))):
        await tell("I have no record of that message, so nothing was sent.")
        return
    if datetime.now(UTC).replace(tzinfo=None) - pending.created_at > CHOICE_LIFETIME:
        await tell("That choice is more than half an hour old, so nothing was sent: mention me again to send it.")
        return
    if presser != pending.user_id:
        await tell(f"Only <@{pending.user_id}>, who mentioned me, can choose who gets that message. Nothing was sent.")
        return
    if index is None:
        if await bot.ledger.decide_mention(mention_id, presser, "cancelled"):
            await respond(text="Cancelled: nothing was sent.", replace_original=True)
        else:
            await tell(ALREADY)
        return
    customer = pending.customers[index]
    if not await bot.ledger.decide_mention(mention_id, presser, "sent"):
        await tell(ALREADY)
        return
    requester = Requester(pending.team_id, presser, pending.channel_id, "mention")
    accepted: Accepted | None = None
    try:
        accepted = await _accept(bot, customer, pending.text, requester, tell)
    finally:
        if accepted is None:  # refused (or the ledger failed): nothing went out, so they may choose again
            await bot.ledger.undecide_mention(mention_id)
    if accepted is None:
        return
    log.info("mention %s: %s chose %s", mention_id, presser, mask(customer.number))
    try:
        label = customer_label(customer, provider=True)
        await respond(text=f"Sent to {label}: the outcome follows in the thread.", replace_original=True)
    except Exception:  # the send is recorded: it goes out whether or not the choice can be replaced
        log.warning("could not replace the choice of mention %s", mention_id)
    await bot.deliver(accepted, channel_id=pending.channel_id, private=tell, thread_ts=pending.thread_ts)


async def _whisper(
    bot: Bot,
    channel: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    thread_ts: str | None = None,
) -> None:
    try:
        await bot.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts)
    except SlackApiError as exc:
        log.info("could not answer %s privately: %s", user, exc.response.get("error"))
