"""The Retry button under a failed or unknown outcome: one new attempt, however many presses."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.domain.draft import DraftError, Problem
from bot.sending import Requester
from bot.slack.app import Bot, problems_text
from bot.slack.messages import RETRY_ACTION

log = logging.getLogger(__name__)


def register(bot: Bot) -> None:
    @bot.app.action(RETRY_ACTION)
    async def retry_pressed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        bot.background.spawn(_retry(bot, body, str(action.get("value")), respond), name="retry")


async def _retry(bot: Bot, body: dict[str, Any], send_id: str, respond: AsyncRespond) -> None:
    user = body.get("user") or {}
    presser = str(user.get("id"))
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    record = await bot.ledger.get(send_id)

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    if record is None:
        await tell(":warning: I have no record of that message, so nothing was sent.")
        return
    reporter = bot.reporter(
        channel_id=record.channel_id or str(channel),
        thread_ts=record.thread_ts or message.get("thread_ts") or message.get("ts"),
        sender_id=presser,
        private=tell,
        summary=False,
        prefix=f"<@{presser}> retried: ",
    )
    result = await bot.service.retry(
        send_id, Requester(user.get("team_id"), presser, record.channel_id, "retry"), reporter
    )
    if result is None:
        await tell("That message was already retried or sent, so nothing was sent again.")
        return
    if isinstance(result, list):
        problems: list[Problem] = result
        await tell(problems_text(DraftError(problems)))
        return
    await _mark_retried(bot, channel, container.get("message_ts"), message, presser)


async def _mark_retried(bot: Bot, channel: str | None, ts: str | None, message: dict[str, Any], presser: str) -> None:
    """Replace the pressed button with who retried, so the thread reads right."""
    if not channel or not ts or container_is_ephemeral(message):
        return
    blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Retried by <@{presser}>"}]})
    try:
        await bot.client.chat_update(channel=channel, ts=ts, text=str(message.get("text") or "Retried"), blocks=blocks)
    except SlackApiError as exc:
        log.info("could not mark the outcome as retried: %s", exc.response.get("error"))


def container_is_ephemeral(message: dict[str, Any]) -> bool:
    return bool(message.get("is_ephemeral"))
