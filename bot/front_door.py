"""The front door: what every request must pass before anything parses it.

A request body is read as a stream with a size cap (a declared Content-Length over the cap is refused
before reading), Slack's signature is checked on the raw bytes before any parsing, and JSON is
checked for nesting depth before it is decoded, so a hostile body costs neither memory nor a
traceback. Refusals are one WARNING line each and a 4xx answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from bot.slack.verification import VERIFIED

log = logging.getLogger(__name__)

SLACK_MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_WINDOW_SECONDS = 5 * 60
MAX_JSON_DEPTH = 32


class Refused(Exception):
    """A request turned away: `status` is the HTTP answer, `reason` the log line's words."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClientGone(Exception):
    """The client hung up before sending its whole body."""


def declared_too_large(request: Request, limit: int) -> bool:
    declared = request.headers.get("content-length")
    return bool(declared and declared.isdigit() and int(declared) > limit)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it passes `limit` (read no further). ClientGone on a hang-up."""
    if declared_too_large(request, limit):
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone from None
    return b"".join(chunks)


def slack_timestamp_fresh(timestamp: str | None, now: float | None = None) -> bool:
    """The request timestamp is an integer within five minutes of now (either way)."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs((time.time() if now is None else now) - int(timestamp)) <= SIGNATURE_WINDOW_SECONDS


def slack_signature_ok(secret: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    """Slack's v0 signature: HMAC-SHA256 over `v0:{timestamp}:{body}`, compared in constant time."""
    if not signature:
        return False
    mac = hmac.new(secret.encode("utf-8"), b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256)
    return hmac.compare_digest(b"v0=" + mac.hexdigest().encode("ascii"), signature.strip().encode("utf-8"))


# A JSON string (with its escapes; an unterminated one runs to the end) or a bracket: nothing else
# changes the nesting depth. Possessive quantifiers keep it linear on any input.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, counted without recursion."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def loads_limited(text: str, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decoded JSON, its nesting checked before decoding; Refused(400) when too deep or not JSON."""
    if json_depth(text) > max_depth:
        raise Refused(400, f"{what} is nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None


def loads_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object (see `loads_limited`); Refused(400) for anything else."""
    value = loads_limited(text, what)
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")
    return value


def parse_slack_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """A signed Slack body as Bolt reads it: a form (with `payload` JSON for interactions) or JSON."""
    from urllib.parse import parse_qsl

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json":
        return loads_object(text, "the body")
    if kind == "application/x-www-form-urlencoded":
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not a valid form") from None
        if "payload" in form:
            return loads_object(form["payload"], "the payload")
        if not form:
            raise Refused(400, "the form is empty")
        return form
    raise Refused(400, f"unsupported content type {kind or '(none)'!r}")


def slack_endpoint(app: AsyncApp, signing_secret: str) -> Callable[[Request], Awaitable[Response]]:
    """`POST /slack/events`: signature first, on a capped body; only then is the body parsed and the
    request handed to Bolt, marked verified so Bolt does not check it a second time."""

    async def events(request: Request) -> Response:
        try:
            bolt_request = await _admit(request, signing_secret)
        except Refused as refused:
            log.warning("refused a Slack request (%d): %s", refused.status, refused.reason)
            return Response(status_code=refused.status, headers={"Connection": "close"})
        except ClientGone:
            log.warning("a client hung up before sending its whole request")
            return Response(status_code=400, headers={"Connection": "close"})
        return to_starlette_response(await app.async_dispatch(bolt_request))

    return events


async def _admit(request: Request, signing_secret: str) -> AsyncBoltRequest:
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if not signature or not timestamp:
        raise Refused(401, "no signature")
    if not slack_timestamp_fresh(timestamp):
        raise Refused(401, "stale or malformed timestamp")
    raw = await read_capped(request, SLACK_MAX_BODY_BYTES)
    if raw is None:
        raise Refused(413, f"body over {SLACK_MAX_BODY_BYTES} bytes")
    if not slack_signature_ok(signing_secret, timestamp, raw, signature):
        raise Refused(401, "wrong signature")
    parsed = parse_slack_body(raw, request.headers.get("content-type"))
    try:
        bolt_request = AsyncBoltRequest(
            body=raw.decode("utf-8"),
            query=request.url.query,
            headers={k: [v] for k, v in request.headers.items()},
            context={VERIFIED: True},
        )
        if bolt_request.body != parsed:
            # Bolt guesses a form holds `payload` JSON when the word appears anywhere in it (e.g. in a
            # command's text); the body read above by its content type is the right one.
            bolt_request.body = parsed
            bolt_request.context = build_async_context(AsyncBoltContext({VERIFIED: True}), parsed)
    except Exception as exc:  # a body Bolt cannot read is the sender's mistake, not ours
        raise Refused(400, f"unreadable body ({type(exc).__name__})") from None
    return bolt_request
