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
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.response import BoltResponse
from starlette.requests import Request

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


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A verified Slack body (parsed, raw) answered without Bolt's dispatch, or None to dispatch it.
Direct = Callable[[dict[str, Any], bytes], Awaitable[BoltResponse | None]]


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it passes `limit` (read no further). ClientGone on a hang-up."""
    return await read_capped_asgi(request.headers, request.receive, limit)


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


def parse_form(text: str) -> dict[str, str]:
    """`dict(parse_qsl(text, keep_blank_values=True, errors="strict"))`, in about half the time.

    parse_qsl sends every name and value through `unquote` (26 calls for a slash command: 17 µs, now
    9.5, of an acknowledgement's 260); names and values without `+` or `%` are their own decoding.
    The same answers and the same errors, checked against parse_qsl in tests/unit/test_front_door_form.py.
    """
    form: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        form[_form_decoded(name)] = _form_decoded(value)
    return form


def _form_decoded(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        text = unquote(text, errors="strict")
    return text


def parse_slack_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """A signed Slack body as Bolt reads it: a form (with `payload` JSON for interactions) or JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json":
        return loads_object(text, "the body")
    if kind == "application/x-www-form-urlencoded":
        try:
            form = parse_form(text)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not a valid form") from None
        if "payload" in form:
            return loads_object(form["payload"], "the payload")
        if not form:
            raise Refused(400, "the form is empty")
        return form
    raise Refused(400, f"unsupported content type {kind or '(none)'!r}")


async def read_capped_asgi(headers: Mapping[str, str], receive: Receive, limit: int) -> bytes | None:
    """The body from the ASGI stream, or None once it passes `limit` (a declared Content-Length over it
    is refused before reading; nothing more is read); ClientGone on a hang-up."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def slack_endpoint(app: AsyncApp, signing_secret: str, direct: Direct | None = None) -> ASGIApp:
    """`POST /slack/events`, as a bare ASGI app (no framework between uvicorn and the check): signature
    first, on a capped body; only then is the body parsed, and answered by `direct` or handed to Bolt,
    marked verified so Bolt does not check it a second time."""

    async def events(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            raw, parsed = await _admit(headers, receive, signing_secret)
            response = await direct(parsed, raw) if direct is not None else None
            if response is None:
                response = await app.async_dispatch(_bolt_request(raw, parsed, headers, scope))
        except Refused as refused:
            log.warning("refused a Slack request (%d): %s", refused.status, refused.reason)
            await _answer(send, refused.status, b"", [(b"connection", b"close")])
            return
        except ClientGone:
            log.warning("a client hung up before sending its whole request")
            await _answer(send, 400, b"", [(b"connection", b"close")])
            return
        await _answer(
            send,
            response.status,
            response.body.encode("utf-8"),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, vs in response.headers.items() for v in vs],
        )

    return events


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [h for h in headers if h[0].lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _admit(headers: dict[str, str], receive: Receive, signing_secret: str) -> tuple[bytes, dict[str, Any]]:
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not signature or not timestamp:
        raise Refused(401, "no signature")
    if not slack_timestamp_fresh(timestamp):
        raise Refused(401, "stale or malformed timestamp")
    raw = await read_capped_asgi(headers, receive, SLACK_MAX_BODY_BYTES)
    if raw is None:
        raise Refused(413, f"body over {SLACK_MAX_BODY_BYTES} bytes")
    if not slack_signature_ok(signing_secret, timestamp, raw, signature):
        raise Refused(401, "wrong signature")
    return raw, parse_slack_body(raw, headers.get("content-type"))


def _bolt_request(raw: bytes, parsed: dict[str, Any], headers: dict[str, str], scope: Scope) -> AsyncBoltRequest:
    try:
        bolt_request = AsyncBoltRequest(
            body=raw.decode("utf-8"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k: [v] for k, v in headers.items()},
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
