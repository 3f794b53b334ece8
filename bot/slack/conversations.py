"""Conversations shown in Slack: delivery statuses and customers' messages, rendered and posted.

`SlackConversations` is the conversations service's sink (`bot.conversations.ConversationSink`): status
updates edit the send's summary in place (the latest status per recipient), and a message that was not
delivered gets the provider's error and a Retry button; a customer's message is posted in its thread
with a Reply button. Which thread, deduplication and claims are the service's business.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.conversations import Conversation, Delivery, SendRecord
from bot.domain.draft import Draft
from bot.domain.opt_out import is_opt_out
from bot.domain.outcome import Outcome
from bot.domain.phone import PhoneNumber, mask
from bot.domain.providers import Provider
from bot.sending import draft_from_record
from bot.slack.context import Bot
from bot.slack.conversation_view import event_text, head_content, head_message
from bot.slack.links import message_link
from bot.slack.messages import customer_blocks, delivery_line, parent_blocks, summary_text, undelivered_line
from bot.slack.outbox import slack_call
from bot.sociocs.webhooks import IncomingMessage

log = logging.getLogger(__name__)


class SlackConversations:
    """Shows what the conversations service hands over in Slack."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def customer_message(
        self,
        message: IncomingMessage,
        provider: Provider,
        channel_id: str,
        thread_ts: str | None,
        *,
        broadcast: bool = False,
    ) -> str | None:
        text, blocks = customer_blocks(message, provider, new_thread=thread_ts is None)
        return await self._post_customer(message, channel_id, thread_ts, text, blocks, broadcast=broadcast)

    async def _post_customer(
        self,
        message: IncomingMessage,
        channel_id: str,
        thread_ts: str | None,
        text: str,
        blocks: list[Any],
        *,
        broadcast: bool,
    ) -> str | None:
        """Post a customer's message (also to the channel when `broadcast`, in a thread); its ts or None."""
        extra: dict[str, Any] = {"reply_broadcast": True} if broadcast and thread_ts else {}
        response = await slack_call(
            self._bot.client.chat_postMessage(
                channel=channel_id,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                link_names=False,
                **extra,
            ),
            f"post the message from {mask(message.number)}",
        )
        return None if response is None else str(response["ts"])

    async def conversation_started(
        self,
        message: IncomingMessage,
        provider: Provider,
        channel_id: str,
        thread_ts: str | None,
        *,
        conversation_id: str,
        previous: tuple[str, str] | None,
    ) -> tuple[str, str] | None:
        link = None
        if previous is not None and self._bot.links is not None:
            link = message_link(await self._bot.links.base(), previous[0], previous[1])
        head = head_content(message, provider, new_thread=thread_ts is None, previous=link)
        now = datetime.now(UTC).replace(tzinfo=None)
        state = Conversation(
            id=conversation_id,
            provider=provider.value,
            channel_key=message.channel_key,
            number=message.number,
            name=message.sender_name,
            status="open",
            assignee=None,
            closed_by=None,
            channel_id=channel_id,
            thread_ts=thread_ts or "",
            head_ts="",
            head=head,
            previous=None,
            opened_at=now,
            last_customer_at=now,
            last_customer_text=message.text,
            waiting_since=None if is_opt_out(message.text) else now,  # as the ledger records it
        )
        text, blocks = head_message(state)
        # In an existing thread (a send's), the start is also shown in the channel: its one notification.
        ts = await self._post_customer(message, channel_id, thread_ts, text, blocks, broadcast=True)
        if ts is None:
            return None
        self._bot.home_changed(*self._bot.home_viewers)
        return ts, head

    async def conversation_changed(
        self, conversation: Conversation, event: str | None = None, actor: str | None = None
    ) -> None:
        bot = self._bot
        if event is not None:
            note = event_text(event, actor)
            await slack_call(
                bot.client.chat_postMessage(
                    channel=conversation.channel_id,
                    thread_ts=conversation.thread_ts,
                    text=note,
                    unfurl_links=False,
                    link_names=False,
                ),
                f"note that a conversation was {event}",
            )

        if event is None:
            bot.head_refresh.request(conversation.id)  # only the customer's latest time changed: later, once
        else:
            await refresh_head(bot, conversation.id)
        bot.home_changed(*bot.home_viewers)

    async def statuses_changed(self, record: SendRecord) -> None:
        await _refresh_summary(self._bot, record)
        self._bot.home_changed(record.user_id)

    async def undelivered(self, record: SendRecord, failures: list[Delivery]) -> None:
        if (
            record.channel_id
            and record.summary_ts
            and await self._bot.replies.show(record.channel_id, record.summary_ts)
        ):
            return  # the send's outcome reply shows the failure, with Retry
        for status, code, message in failures:
            await _report_undelivered(self._bot, record, status, code, message)


async def refresh_head(bot: Bot, conversation_id: str) -> None:
    """Redraw a conversation's first message as the ledger has it when the edit is made."""
    conversation = await bot.conversations.conversation(conversation_id)
    if conversation is None:
        return

    async def render() -> tuple[str, list[dict[str, Any]]] | None:
        fresh = await bot.conversations.conversation(conversation_id)
        return head_message(fresh) if fresh is not None else None

    await bot.outbox.edit(conversation.channel_id, conversation.head_ts, render)


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
            template=first.template,
            video_url=first.video_url,
        )
        blocks = parent_blocks(draft, record.user_id, dry_run=False, window_known=bot.service.window_known)
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
