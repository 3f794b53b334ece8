"""`/sms` over HTTP, handed straight to its listener instead of through Bolt's dispatch.

Every `/sms` is written to the ledger before Slack hears "ok", so its acknowledgement already costs a
ledger round trip; Bolt's dispatch (request object, context, middleware chain, listener matching,
argument building) was as much CPU again, on the path whose latency Slack counts. For a slash command
that chain adds nothing the listener uses: the front door has verified the signature, the single-
workspace authorization only fills the context with the token the Bot already holds, and the replay
check of `/sms` is deferred to its listener anyway (`bot.slack.idempotency`). So the front door hands
a verified `/sms` form here, and the same `sms_command` runs with the same `ack`, `respond` and
context keys Bolt would give it. Everything else (and every request in Socket Mode) goes through Bolt.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.slack.context import BOT_KEY, Bot
from bot.slack.idempotency import REPLAY_KEY, ReplayCheck, body_key, deferred
from bot.slack.listeners.commands.sms import sms_command

log = logging.getLogger(__name__)


class DirectCommands:
    """`__call__` answers a verified `/sms` form (None: not one of those, let Bolt dispatch it)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def __call__(self, body: dict[str, Any], raw: bytes) -> BoltResponse | None:
        bot = self._bot
        if not deferred(body) or "ssl_check" in body:
            return None
        if bot.bot_user_id is None:  # Bolt's authorization learns it on the first request it handles
            return None
        context = AsyncBoltContext({BOT_KEY: bot, REPLAY_KEY: ReplayCheck(bot.ledger, body_key(raw))})
        ack = AsyncAck()  # type: ignore[no-untyped-call]
        respond = AsyncRespond(response_url=body.get("response_url"), proxy=bot.client.proxy, ssl=bot.client.ssl)
        try:
            await sms_command(ack, body, respond, context)
        except Exception:  # as Bolt's default error handler: logged, and Slack gets a 500
            log.exception("the /sms listener failed")
            return BoltResponse(status=500, body="")
        if ack.response is None:
            log.error("the /sms listener returned without acknowledging")
            return BoltResponse(status=500, body="")
        return ack.response
