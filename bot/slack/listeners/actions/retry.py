"""The Retry button under a failed or unknown outcome: one new attempt, however many presses."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.domain.draft import DraftError
from bot.sending import NothingToRetry, Reporter, Requester, UnknownSend
from bot.slack.contact_texts import blocked_line
from bot.slack.context import Bot, bot_of
from bot.slack.messages import refusal_text
from bot.slack.outbox import slack_call
from bot.slack.outcome_reply import RETRY_ALL_PREFIX, ReplyReporter
from bot.slack.report import ephemeral

log = logging.getLogger(__name__)


async def retry_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    value = str(action.get("value"))
    if value.startswith(RETRY_ALL_PREFIX):
        bot.background.spawn(_retry_all(bot, body, value.removeprefix(RETRY_ALL_PREFIX), respond), name="retry")
    else:
        bot.background.spawn(_retry(bot, body, value, respond), name="retry")


async def _retry_all(bot: Bot, body: dict[str, Any], which: str, respond: AsyncRespond) -> None:
    """**Retry all failed**: the failed and unknown recipients of one send (`channel:summary ts`) or
    of the listed send ids, each retried exactly as by its own button."""
    if ":" in which:
        state = await bot.replies.state(*which.split(":", 1))
        send_ids: tuple[str, ...] = state.send_ids if state else ()
    else:
        send_ids = tuple(i for i in which.split(",") if i)
    retryable = await bot.service.retryable(send_ids)
    await asyncio.gather(*(_retry(bot, body, send_id, respond, quiet=True) for send_id in retryable))


async def _retry(bot: Bot, body: dict[str, Any], send_id: str, respond: AsyncRespond, *, quiet: bool = False) -> None:
    user = body.get("user") or {}
    presser = str(user.get("id"))
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    tell = ephemeral(respond)
    try:
        record = await bot.service.find(send_id)
    except UnknownSend as exc:
        await tell(refusal_text(exc))
        return
    if await bot.contacts.is_blocked(record.recipient):  # blocked since: not sent again (#14)
        await tell(blocked_line(record.recipient))
        return
    state = await bot.replies.state(record.channel_id, record.summary_ts)
    reporter: Reporter
    if state is not None and state.reply_ts is not None:
        reporter = ReplyReporter(bot.replies, state)  # the send's one reply shows the retry
    else:
        reporter = bot.reporter(
            channel_id=record.channel_id or str(channel),
            thread_ts=record.thread_ts or message.get("thread_ts") or message.get("ts"),
            sender_id=presser,
            private=tell,
            summary=False,
            prefix=f"<@{presser}> retried: ",
        )
    try:
        await bot.service.retry(send_id, Requester(user.get("team_id"), presser, record.channel_id, "retry"), reporter)
    except NothingToRetry as exc:
        if not quiet:
            await tell(refusal_text(exc))
        return
    except DraftError as exc:
        await tell(refusal_text(exc))
        return
    if state is not None and state.reply_ts is not None:
        return
    await _mark_retried(bot, channel, container.get("message_ts"), message, presser)


async def _mark_retried(bot: Bot, channel: str | None, ts: str | None, message: dict[str, Any], presser: str) -> None:
    """Replace the pressed button with who retried, so the thread reads right."""
    if not channel or not ts or container_is_ephemeral(message):
        return
    blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Retried by <@{presser}>"}]})
    await slack_call(
        bot.client.chat_update(channel=channel, ts=ts, text=str(message.get("text") or "Retried"), blocks=blocks),
        "mark the outcome as retried",
        level=logging.INFO,
    )


def container_is_ephemeral(message: dict[str, Any]) -> bool:
    return bool(message.get("is_ephemeral"))
