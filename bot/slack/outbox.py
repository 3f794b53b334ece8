"""Every Slack Web API call the bot makes, paced within Slack's rate limits.

- `chat.postMessage` goes through a queue per channel: a burst of 3, then one a second (Slack:
  "one message per second per channel", "short bursts >1 allowed"), in the order asked, so a
  thread reads in recipient order.
- Other methods are paced per workspace by their tier (Tier 2: 20, Tier 3: 50, Tier 4: 100 a minute).
- A 429 pauses that queue for its `Retry-After` and the same call is made again: a rate limit never
  loses a message nor turns it into a private one. (slack_sdk's own rate-limit retry handler is off,
  so retries do not double up.)
- `Outbox.edit` coalesces edits of one message: at most one `chat.update` per message is pending, and
  its content is rendered when the call is actually made, so a delayed edit never shows older state.

Several replicas: each takes a fair share of every budget, the rate divided by the number of live
bot processes in the ledger's `instances` table (`share`), refreshed by the ledger's heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

log = logging.getLogger(__name__)

TIER_PER_MINUTE = {2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "users.info": 4,
    "conversations.info": 3,
    "usergroups.users.list": 2,
    "auth.test": 4,
    "files.info": 4,
}
POST_BURST = 3
POST_INTERVAL = 1.05  # a little over a second, so jitter (network, a busy event loop) never makes two posts look closer
MAX_RATE_LIMIT_WAITS = 20  # 429s in a row for one call before it is given up (and logged)

_paced: ContextVar[bool] = ContextVar("slack_call_paced", default=False)


class Pace:
    """A token bucket that callers wait on in FIFO order; `pause` honours a Retry-After."""

    def __init__(self, capacity: float, interval: float, share: Callable[[], int]) -> None:
        self._capacity = capacity
        self._interval = interval
        self._share = share
        self._tokens = capacity
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                interval = self._interval * max(1, self._share())
                capacity = max(1.0, self._capacity / max(1, self._share()))
                self._tokens = min(capacity, self._tokens + (now - self._stamp) / interval)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) * interval)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._tokens = 0.0


def _retry_after(exc: SlackApiError) -> float | None:
    response = exc.response
    if getattr(response, "status_code", None) != 429 and response.get("error") != "ratelimited":
        return None
    headers = getattr(response, "headers", {}) or {}
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class PacedWebClient(AsyncWebClient):
    """An AsyncWebClient whose every call waits its turn and waits out 429s instead of failing."""

    def __init__(self, *args: Any, share: Callable[[], int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.share: Callable[[], int] = share or (lambda: 1)
        self._paces: dict[str, Pace] = {}
        self.ratelimited = 0  # 429s seen (each waited out)

    def pace_for(self, api_method: str, channel: str | None) -> Pace | None:
        if api_method == "chat.postMessage":
            key, capacity, interval = f"post:{channel}", float(POST_BURST), POST_INTERVAL
        elif api_method in METHOD_TIER:
            per_minute = TIER_PER_MINUTE[METHOD_TIER[api_method]]
            # A little under the published rate, with a burst of a fifth of it.
            key, capacity, interval = f"tier:{api_method}", max(1.0, per_minute / 5), 60.0 / per_minute * 1.05
        else:
            return None
        pace = self._paces.get(key)
        if pace is None:
            pace = self._paces[key] = Pace(capacity, interval, self.share)
        return pace

    async def api_call(
        self, api_method: str, *, json: dict[str, Any] | None = None, data: Any = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        body = json if isinstance(json, dict) else data if isinstance(data, dict) else {}
        channel = body.get("channel") or (kwargs.get("params") or {}).get("channel")
        pace = self.pace_for(api_method, str(channel) if channel else None)
        prepaid = _paced.get()
        for _ in range(MAX_RATE_LIMIT_WAITS):
            if pace is not None and not prepaid:
                await pace.take()
            prepaid = False
            try:
                return await super().api_call(api_method, json=json, data=data, **kwargs)
            except SlackApiError as exc:
                wait = _retry_after(exc)
                if wait is None:
                    raise
                self.ratelimited += 1
                log.warning(
                    "Slack rate-limited %s%s: waiting %.0f s", api_method, f" in {channel}" if channel else "", wait
                )
                if pace is not None:
                    pace.pause(wait)
                else:
                    await asyncio.sleep(wait)
        raise SlackApiError(f"{api_method} stayed rate-limited", {"ok": False, "error": "ratelimited"})  # type: ignore[no-untyped-call]


Rendered = tuple[str, list[dict[str, Any]]]
T = TypeVar("T")


async def slack_call(
    call: Awaitable[T],
    what: str,
    *,
    level: int = logging.ERROR,
    expected: Collection[str] = (),
    expected_level: int = logging.INFO,
) -> T | None:
    """The one way a failing Web API call is handled: the call's answer, or None when Slack refused it,
    logged as `could not {what}: {error}` at `level` (at `expected_level` for the `expected` errors).
    Rate limits never get here (the paced client waits them out); other exceptions propagate."""
    try:
        return await call
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        log.log(expected_level if error in expected else level, "could not %s: %s", what, error)
        return None


async def paced_call(client: PacedWebClient, api_method: str, channel: str, call: Callable[[], Awaitable[T]]) -> T:
    """Wait for `api_method`'s turn in `channel`, then run `call` (which renders, then calls Slack).

    Rendering after the wait means what is sent is what the ledger says when it is sent. A 429 is
    waited out inside the client, and the call made again with the same, already rendered, content.
    """
    pace = client.pace_for(api_method, channel)
    if pace is not None:
        await pace.take()
    token = _paced.set(True)
    try:
        return await call()
    finally:
        _paced.reset(token)


@dataclass
class _Edit:
    render: Callable[[], Awaitable[Rendered | None]]
    accepted: Callable[[], Awaitable[None]] | None = None
    requested: int = 0
    shown: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    running: bool = False


class Outbox:
    """Coalesced, render-at-send-time edits of messages, on top of the paced client."""

    def __init__(self, client: PacedWebClient) -> None:
        self.client = client
        self._edits: dict[tuple[str, str], _Edit] = {}

    async def edit(
        self,
        channel: str,
        ts: str,
        render: Callable[[], Awaitable[Rendered | None]],
        accepted: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Make the message at (channel, ts) show what `render` gives when the call is made; returns
        once an edit rendered after this request has been made (or given up). `render` returning None
        means nothing to change; `accepted` runs after Slack accepted an edit."""
        key = (channel, ts)
        entry = self._edits.get(key)
        if entry is None:
            entry = self._edits[key] = _Edit(render)
        entry.render = render
        entry.accepted = accepted
        entry.requested += 1
        wanted = entry.requested
        if not entry.running:
            entry.running = True
            asyncio.get_running_loop().create_task(self._run(key, entry), name="slack-edit")
        async with entry.changed:
            await entry.changed.wait_for(lambda: entry.shown >= wanted)

    async def _run(self, key: tuple[str, str], entry: _Edit) -> None:
        channel, ts = key
        pace = self.client.pace_for("chat.update", channel)
        try:
            while entry.shown < entry.requested:
                if pace is not None:
                    await pace.take()
                generation = entry.requested  # everything asked so far is covered by this render
                try:
                    rendered = await entry.render()
                    if rendered is not None:
                        text, blocks = rendered
                        token = _paced.set(True)
                        try:
                            edited = await slack_call(
                                self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
                                f"edit a message in {channel}",
                                level=logging.WARNING,
                            )
                        finally:
                            _paced.reset(token)
                        if edited is not None and entry.accepted is not None:
                            await entry.accepted()
                except Exception:
                    log.exception("could not render or edit a message in %s", channel)
                async with entry.changed:
                    entry.shown = generation
                    entry.changed.notify_all()
        finally:
            entry.running = False
            if entry.shown >= entry.requested:
                self._edits.pop(key, None)
