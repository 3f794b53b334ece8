"""Closing the loop: delivery status and customer replies come back into the Slack thread.

Status updates edit the summary message in place (the latest status per recipient) and add a reply
with the provider's error and a Retry button when a message was not delivered. A customer's message
goes into the thread of the latest conversation with that number, or starts one in the inbox channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from bot.domain.draft import Draft
from bot.domain.outcome import UNDELIVERED, Outcome
from bot.domain.phone import PhoneNumber, mask
from bot.domain.providers import Provider
from bot.ledger import SendRecord, ThreadCustomer
from bot.sending import draft_from_record
from bot.slack.context import Bot
from bot.slack.messages import parent_blocks, quote_blocks, summary_text
from bot.slack.outbox import slack_call
from bot.slack.text import shown
from bot.sociocs.webhooks import IncomingMessage

log = logging.getLogger(__name__)

REPLY_ACTION = "reply_sms"
_ICONS = {
    "sent": ":outbox_tray:",
    "delivered": ":white_check_mark:",
    "read": ":eyes:",
    "failed": ":x:",
    "undelivered": ":x:",
}


def delivery_line(records: list[SendRecord]) -> str | None:
    """`Delivery: +1617… delivered · +1618… sent`, or None while nothing is known."""
    parts = [
        f"{_ICONS.get(r.delivery_status, ':hourglass_flowing_sand:')} {r.recipient} {r.delivery_status}"
        for r in records
        if r.delivery_status
    ]
    return "Delivery: " + " · ".join(parts) if parts else None


async def apply_deliveries(bot: Bot, message_id: str) -> None:
    """Report the status updates waiting for `message_id` (each exactly once, whoever gets here first)."""
    claimed = await bot.ledger.claim_deliveries(message_id)
    if claimed is None:
        return
    record, updates = claimed
    await _refresh_summary(bot, record)
    if record.delivery_status not in UNDELIVERED or not record.channel_id:
        return  # a failure after delivered or read is a regression: ignored, never shown
    if record.summary_ts and await bot.replies.show(record.channel_id, record.summary_ts):
        return  # the send's outcome reply shows the failure, with Retry
    for status, code, message in updates:
        if status in UNDELIVERED:
            await _report_undelivered(bot, record, status, code, message)


async def _refresh_summary(bot: Bot, record: SendRecord) -> None:
    """Edit the summary to the delivery statuses in the ledger, rendered when the edit is made.

    The outbox keeps at most one edit per message pending, so a burst of status updates becomes a
    few edits, each showing the latest statuses (which never go backwards in the ledger).
    """
    channel, summary_ts = record.channel_id, record.summary_ts
    if not channel or not summary_ts:
        return

    async def render() -> tuple[str, list[dict[str, Any]]]:
        records = await bot.ledger.sends_in_summary(channel, summary_ts)
        first = draft_from_record(records[0] if records else record)
        draft = Draft(
            provider=first.provider,
            recipients=tuple(PhoneNumber(r.recipient, None) for r in records) or first.recipients,
            text=first.text,
            name=first.name,
            image_urls=first.image_urls,
            file_url=first.file_url,
        )
        blocks = parent_blocks(draft, record.user_id, dry_run=False)
        line = delivery_line(records)
        if line:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
        return summary_text(draft, record.user_id), blocks

    # Noted as due before the edit and cleared once Slack accepted one rendered after it: a process that
    # dies in between leaves it to the recovery sweep of another, so the statuses are shown (once).
    await bot.ledger.statuses_due(channel, summary_ts, True)
    generation = _status_requests[(channel, summary_ts)] = _status_requests.get((channel, summary_ts), 0) + 1

    async def accepted() -> None:
        if _status_requests.get((channel, summary_ts)) == generation:
            _status_requests.pop((channel, summary_ts), None)
            await bot.ledger.statuses_due(channel, summary_ts, False)

    await bot.outbox.edit(channel, summary_ts, render, accepted)


# Status edits asked for per summary, so only the edit rendered after the last one clears "due".
_status_requests: dict[tuple[str, str], int] = {}


async def refresh_summary(bot: Bot, channel: str, summary_ts: str) -> None:
    """Show a summary's delivery statuses as the ledger has them (the recovery sweep's way in)."""
    records = await bot.ledger.sends_in_summary(channel, summary_ts)
    if records:
        await _refresh_summary(bot, records[0])


async def _report_undelivered(bot: Bot, record: SendRecord, status: str, code: str | None, message: str | None) -> None:
    detail = " ".join(
        p for p in (f"error {shown(code)}" if code else "", f"“{shown(message)}”" if message else "") if p
    )
    line = f":x: Not delivered to {record.recipient} ({status})" + (f": {detail}" if detail else "") + "."
    outcome = Outcome.failed(status, hint="Press Retry to send it again.")
    await bot.post_outcome(record, line, outcome, "the failed delivery")


# Customer messages ----------------------------------------------------------------------------------------


def customer_blocks(
    message: IncomingMessage, provider: Provider, *, new_thread: bool
) -> tuple[str, list[dict[str, Any]]]:
    who = shown(message.sender_name) + f" ({message.number})" if message.sender_name else message.number
    head = (
        f":speech_balloon: New message from *{who}* on {provider.label}"
        if new_thread
        else f":speech_balloon: *{who}* replied"
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head, "verbatim": True}}]
    if message.text:
        blocks.extend(quote_blocks(message.text))
    links = [f"Image: {shown(u)}" for u in message.image_urls]
    links += [f"File: {shown(u)}" for u in message.file_urls]
    links += [f"Video: {shown(u)}" for u in message.video_urls]
    if links:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)[:2900], "verbatim": True}}
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": "customer_reply",
            "elements": [
                {
                    "type": "button",
                    "action_id": REPLY_ACTION,
                    "text": {"type": "plain_text", "text": "Reply"},
                    "value": json.dumps({"p": provider.value, "n": message.number}),
                }
            ],
        }
    )
    fallback = f"{head}: {shown(message.text or '')}"[:3000]
    return fallback, blocks


# (lock, how many handlers hold or wait for it) per conversation, dropped when nobody does.
_conversation_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}


async def handle_incoming(bot: Bot, message: IncomingMessage) -> None:
    """Post a customer's message in its conversation's thread, or start one in the inbox channel.

    Messages from one number are handled one at a time, so two quick messages from a new number
    share the inbox thread the first one starts.
    """
    key = (message.channel_key, message.number)
    lock, users = _conversation_locks.get(key, (asyncio.Lock(), 0))
    _conversation_locks[key] = (lock, users + 1)
    try:
        async with lock:
            await _post_incoming(bot, message)
    finally:
        lock, users = _conversation_locks[key]
        if users == 1:
            del _conversation_locks[key]
        else:
            _conversation_locks[key] = (lock, users - 1)


async def _post_incoming(bot: Bot, message: IncomingMessage) -> None:
    provider = Provider(message.provider)
    where = await bot.ledger.thread_for(provider=provider.value, channel_key=message.channel_key, number=message.number)
    inbox = bot.settings.inbox_channel_id
    if where is None and not inbox:
        log.info(
            "message %s from %s on %s: no thread and no INBOX_CHANNEL_ID, recorded only",
            message.message_id,
            mask(message.number),
            provider.value,
        )
        return
    text, blocks = customer_blocks(message, provider, new_thread=where is None)
    channel, thread_ts = where if where else (str(inbox), None)
    response = await slack_call(
        bot.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False, link_names=False
        ),
        f"post the message from {mask(message.number)}",
    )
    if response is None:
        return
    if where is None:
        await bot.ledger.remember_thread(
            provider=provider.value,
            channel_key=message.channel_key,
            number=message.number,
            channel_id=channel,
            thread_ts=str(response["ts"]),
        )
    # The thread belongs to this customer too (with the name Sociocs knows), whatever else it holds.
    customer = ThreadCustomer(provider.value, message.channel_key, message.number, message.sender_name)
    await bot.ledger.join_thread(channel, thread_ts or str(response["ts"]), customer)
