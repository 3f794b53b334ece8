"""`POST /sociocs/webhook`: verify, record, answer Sociocs at once, then post to Slack.

Without SOCIOCS_WEBHOOK_SECRET the endpoint does not exist (404): an unsigned endpoint would let
anyone on the internet post fake customer messages into Slack. Every event is written to the ledger
before the answer, so a status update that arrives before its send's own answer is never lost, and a
duplicate changes nothing.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.conversations import NotServed
from bot.front_door import ClientGone, Refused, loads_limited, read_capped
from bot.slack.context import Bot
from bot.slack.conversations import SlackConversations
from bot.sociocs.webhooks import (
    SIGNATURE_HEADER,
    EventError,
    IncomingMessage,
    build_event_models,
    parse_event,
    signature_ok,
)

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
PATH = "/sociocs/webhook"


def _error(status: int, message: str) -> Response:
    return JSONResponse({"status": "error", "errors": [{"msg": message}]}, status_code=status)


def sociocs_webhook_route(bot: Bot) -> Route | None:
    secret_value = bot.settings.sociocs_webhook_secret
    if secret_value is None:
        return None
    secret = secret_value.get_secret_value()
    build_event_models()  # before ready: the first event does not pay for it
    slack = SlackConversations(bot)

    async def receive(request: Request) -> Response:
        try:
            body = await read_capped(request, MAX_BODY_BYTES)
        except ClientGone:
            log.warning("a webhook's sender hung up before sending its whole body")
            return _error(400, "the body was cut off")
        if body is None:
            log.warning("refused a webhook over %d bytes", MAX_BODY_BYTES)
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        if not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("refused a webhook with a missing or wrong signature")
            return _error(401, "missing or wrong X-Sociocs-Signature")
        try:
            event = parse_event(loads_limited(body.decode("utf-8"), "the body"))
        except UnicodeDecodeError:
            log.warning("refused a signed webhook: the body is not UTF-8")
            return _error(400, "the body is not JSON")
        except Refused as refused:
            log.warning("refused a signed webhook: %s", refused.reason)
            return _error(400, refused.reason)
        except EventError as exc:
            return _error(422, str(exc))
        conversations = bot.conversations
        if isinstance(event, IncomingMessage):
            try:
                first = await conversations.receive(event)
            except NotServed:
                return _error(422, "not a channel this bot serves")
            if first:
                bot.background.spawn(conversations.place(event, slack), name="customer-message")
            return JSONResponse({"status": "success", "duplicate": not first})
        fresh = await conversations.record_status(event)
        if fresh:
            bot.background.spawn(conversations.apply_deliveries(event.message_id, slack), name="delivery-status")
        return JSONResponse({"status": "success", "duplicate": not fresh})

    return Route(PATH, receive, methods=["POST"])
