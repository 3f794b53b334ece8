"""The Cancel button of a scheduled message (in its thread, in `/sms scheduled`, or on the Home tab)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.scheduling import Cancelled, NotScheduled, NotYours
from bot.slack.context import Bot, bot_of
from bot.slack.outbox import slack_call
from bot.slack.report import PrivateSink, ephemeral
from bot.slack.scheduled_text import NOT_SCHEDULED, NOT_YOURS, cancel_outcome_text

log = logging.getLogger(__name__)


async def cancel_pressed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    presser = str((body.get("user") or {}).get("id"))
    container = body.get("container") or {}
    privately = bool(container.get("is_ephemeral"))
    if container.get("type") == "view":  # the Home tab: no response_url, so a word goes by direct message
        bot.home_opened(presser)  # they are looking at it: the cancelled message leaves it at once
        tell = bot.direct_message(presser)
    else:
        tell = ephemeral(respond)
    bot.background.spawn(_cancel(bot, str(action.get("value")), presser, tell, privately), name="cancel-scheduled")


async def _cancel(bot: Bot, send_id: str, presser: str, tell: PrivateSink, privately: bool) -> None:
    try:
        result = await bot.scheduling.cancel(send_id, presser)
    except NotYours:
        await tell(f":no_entry: {NOT_YOURS}")
        return
    except NotScheduled:
        bot.home_changed(presser)  # a Home tab that still listed it is out of date
        await tell(NOT_SCHEDULED)
        return
    line = cancel_outcome_text(result, presser)
    record = result.scheduled.record
    if result.kind is not Cancelled.TRY_AGAIN:  # it left the scheduled list of the sender's (and presser's) Home tab
        bot.home_changed(record.user_id, presser)
    thread = record.thread_ts or record.summary_ts
    if result.kind is Cancelled.TRY_AGAIN or not record.channel_id or not thread:
        await tell(line)
        return
    # The thread says who cancelled it (or that it was too late); the reply loses its Cancel button.
    await slack_call(
        bot.client.chat_postMessage(
            channel=record.channel_id, thread_ts=thread, text=line, unfurl_links=False, link_names=False
        ),
        f"report the cancelling of {send_id}",
    )
    if record.summary_ts:
        await bot.replies.show(record.channel_id, record.summary_ts)
    if privately:
        await tell(line)
