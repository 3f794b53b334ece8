"""Every Slack request is handled once, however often it arrives.

Slack re-posts an event it thinks was answered too slowly (`X-Slack-Retry-Num`), and anyone who saw a
signed request can replay it within its five-minute signature window. Events are known by their
`event_id`; commands and interactions by a fingerprint of the raw body (Slack gives each its own
`trigger_id` and `action_ts`, so two genuine requests never share one). The keys live in the ledger,
so a retry that lands on another replica is recognised too. A request seen before is acknowledged
with an empty 200 and nothing else happens.

A `/sms` command leaves its check to the listener (`replay_of`): a send folds it into the
reservation's transaction (one round trip to the ledger's writer before the acknowledgement, not
two), and every other answer of `/sms` makes the check itself before doing anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.ledger import Ledger

log = logging.getLogger(__name__)

REPLAY_KEY = "replay_check"  # where the middleware leaves a deferred check in Bolt's context
DEFERRED_COMMANDS = frozenset({"/sms"})  # commands whose listener makes the check on every path


class ReplayCheck:
    """A request's replay check, left to its listener: `key` for a reservation to record in its own
    transaction, or `first()` for the paths that record nothing."""

    def __init__(self, ledger: Ledger | None, key: str | None) -> None:
        self._ledger = ledger
        self.key = key

    async def first(self) -> bool:
        """Record the key now: False when the request was seen before (acknowledge it and do nothing)."""
        if self._ledger is None or self.key is None:
            return True
        return await _first(self._ledger, self.key)

    def ignored(self) -> None:
        """Log a request found to be a repeat by the reservation."""
        if self.key is not None:
            log.info("ignored a repeated Slack request %s", self.key[:22])


NO_CHECK = ReplayCheck(None, None)


def replay_of(context: AsyncBoltContext | dict[str, Any]) -> ReplayCheck:
    """The check the middleware left to this listener (a no-op when it made the check itself)."""
    check = context.get(REPLAY_KEY)
    return check if isinstance(check, ReplayCheck) else NO_CHECK


async def _first(ledger: Ledger, key: str) -> bool:
    try:
        return await ledger.first_request(key)
    except Exception as exc:  # the ledger is down: handle it (every send needs the ledger anyway)
        log.warning("could not check whether a Slack request is a repeat (%s)", type(exc).__name__)
        return True


def request_key(req: AsyncBoltRequest) -> str | None:
    """The request's identity: `event:<event_id>` for events, else `body:<sha256>` of the raw body
    (of the envelope's payload in Socket Mode, where there is no raw body). None when there is nothing."""
    body = req.body
    if body.get("type") == "block_suggestion":
        return None  # a typeahead's options request changes nothing, and the same query may come again
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        return f"event:{event_id}"
    if req.raw_body:
        return body_key(req.raw_body.encode("utf-8"))
    if body:
        return body_key(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return None


def body_key(raw: bytes) -> str:
    """The identity of a command or interaction: a fingerprint of its raw body."""
    return "body:" + hashlib.sha256(raw).hexdigest()


def deferred(body: dict[str, Any]) -> bool:
    """A command whose listener makes the replay check itself (see the module's docstring)."""
    return body.get("command") in DEFERRED_COMMANDS and "type" not in body


def install(app: AsyncApp, ledger: Ledger) -> None:
    """Register the check as a global middleware: HTTP and Socket Mode requests alike pass it."""

    async def once_only(req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        key = request_key(req)
        if key is None:
            return await next()
        if deferred(req.body):
            req.context[REPLAY_KEY] = ReplayCheck(ledger, key)
            return await next()
        if not await _first(ledger, key):
            retry = req.headers.get("x-slack-retry-num", [None])[0]
            log.info("ignored a repeated Slack request %s%s", key[:22], f" (retry {retry})" if retry else "")
            return BoltResponse(status=200, body="")
        return await next()

    app.use(once_only)
