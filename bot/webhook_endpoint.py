"""`POST /sociocs/webhook`: verify, record, answer Sociocs at once, then post to Slack.

Without SOCIOCS_WEBHOOK_SECRET the endpoint does not exist (404): an unsigned endpoint would let
anyone on the internet post fake customer messages into Slack. Every event is written to the ledger
before the answer, so a status update that arrives before its send's own answer is never lost, and a
duplicate changes nothing.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.domain.phone import mask
from bot.slack.app import Bot
from bot.slack.conversations import apply_deliveries, handle_incoming
from bot.sociocs.webhooks import SIGNATURE_HEADER, EventError, IncomingMessage, parse_event, signature_ok

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
PATH = "/sociocs/webhook"


def _error(status: int, message: str) -> Response:
    return JSONResponse({"status": "error", "errors": [{"msg": message}]}, status_code=status)


async def _read_limited(request: Request) -> bytes | None:
    """The raw body, or None once it passes MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def sociocs_webhook_route(bot: Bot) -> Route | None:
    secret_value = bot.settings.sociocs_webhook_secret
    if secret_value is None:
        return None
    secret = secret_value.get_secret_value()
    served = {(provider.value, key) for provider, key in bot.settings.channel_keys.items()}

    async def receive(request: Request) -> Response:
        body = await _read_limited(request)
        if body is None:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        if not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("refused a webhook with a missing or wrong signature")
            return _error(401, "missing or wrong X-Sociocs-Signature")
        try:
            event = parse_event(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        except EventError as exc:
            return _error(422, str(exc))
        if isinstance(event, IncomingMessage):
            if (event.provider, event.channel_key) not in served:
                return _error(422, "not a channel this bot serves")
            first = await bot.ledger.first_incoming(event.message_id, event.number)
            if first:
                bot.background.spawn(handle_incoming(bot, event), name="customer-message")
            else:
                log.info("duplicate message %s from %s ignored", event.message_id, mask(event.number))
            return JSONResponse({"status": "success", "duplicate": not first})
        error = event.event_data.error
        fresh = await bot.ledger.record_delivery(
            event.message_id,
            event.event_data.status,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
        )
        if fresh:
            bot.background.spawn(apply_deliveries(bot, event.message_id), name="delivery-status")
        return JSONResponse({"status": "success", "duplicate": not fresh})

    return Route(PATH, receive, methods=["POST"])
