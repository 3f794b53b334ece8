"""Conversations shown in Slack: delivery statuses and customers' messages, rendered and posted.

`SlackConversations` is the conversations service's sink (`bot.conversations.ConversationSink`): status
updates edit the send's summary in place (the latest status per recipient), and a message that was not
delivered gets the provider's error and a Retry button; a customer's message is posted in its thread
with a Reply button. Which thread, deduplication and claims are the service's business.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.conversations import Delivery
from bot.domain.draft import Draft
from bot.domain.outcome import Outcome
from bot.domain.phone import PhoneNumber, mask
from bot.domain.providers import Provider
from bot.ledger import SendRecord
from bot.sending import draft_from_record
from bot.slack.context import Bot
from bot.slack.messages import customer_blocks, delivery_line, parent_blocks, summary_text, undelivered_line
from bot.slack.outbox import slack_call
from bot.sociocs.webhooks import IncomingMessage

log = logging.getLogger(__name__)


class SlackConversations:
    """Shows what the conversations service hands over in Slack."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def customer_message(
        self, message: IncomingMessage, provider: Provider, channel_id: str, thread_ts: str | None
    ) -> str | None:
        text, blocks = customer_blocks(message, provider, new_thread=thread_ts is None)
        response = await slack_call(
            self._bot.client.chat_postMessage(
                channel=channel_id, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False, link_names=False
            ),
            f"post the message from {mask(message.number)}",
        )
        return None if response is None else str(response["ts"])

    async def statuses_changed(self, record: SendRecord) -> None:
        await _refresh_summary(self._bot, record)

    async def undelivered(self, record: SendRecord, failures: list[Delivery]) -> None:
        if (
            record.channel_id
            and record.summary_ts
            and await self._bot.replies.show(record.channel_id, record.summary_ts)
        ):
            return  # the send's outcome reply shows the failure, with Retry
        for status, code, message in failures:
            await _report_undelivered(self._bot, record, status, code, message)


async def _refresh_summary(bot: Bot, record: SendRecord) -> None:
    """Edit the summary to the delivery statuses in the ledger, rendered when the edit is made.

    The outbox keeps at most one edit per message pending, so a burst of status updates becomes a
    few edits, each showing the latest statuses (which never go backwards in the ledger).
    """
    channel, summary_ts = record.channel_id, record.summary_ts
    if not channel or not summary_ts:
        return

    async def render() -> tuple[str, list[dict[str, Any]]]:
        records = await bot.replies.book.sends_in_summary(channel, summary_ts)
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
    await bot.replies.book.statuses_due(channel, summary_ts, True)
    generation = _status_requests[(channel, summary_ts)] = _status_requests.get((channel, summary_ts), 0) + 1

    async def accepted() -> None:
        if _status_requests.get((channel, summary_ts)) == generation:
            _status_requests.pop((channel, summary_ts), None)
            await bot.replies.book.statuses_due(channel, summary_ts, False)

    await bot.outbox.edit(channel, summary_ts, render, accepted)


# Status edits asked for per summary, so only the edit rendered after the last one clears "due".
_status_requests: dict[tuple[str, str], int] = {}


async def refresh_summary(bot: Bot, channel: str, summary_ts: str) -> None:
    """Show a summary's delivery statuses as the ledger has them (the recovery sweep's way in)."""
    records = await bot.replies.book.sends_in_summary(channel, summary_ts)
    if records:
        await _refresh_summary(bot, records[0])


async def _report_undelivered(bot: Bot, record: SendRecord, status: str, code: str | None, message: str | None) -> None:
    line = undelivered_line(record.recipient, status, code, message)
    outcome = Outcome.failed(status, hint="Press Retry to send it again.")
    await bot.post_outcome(record, line, outcome, "the failed delivery")
