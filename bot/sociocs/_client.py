"""An async Sociocs client over one pooled httpx connection set.

The API key travels only in the `apikey` header. It is never put in a URL, a log line or an
exception message, so nothing this module raises or returns can leak it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from urllib.request import getproxies

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.outcome import Outcome
from bot.domain.payload import MessagePayload
from bot.domain.providers import Provider
from bot.sociocs._contacts import ContactsMixin
from bot.sociocs._transport import AiohttpTransport, Reply, encode_json

log = logging.getLogger(__name__)


class SociocsError(RuntimeError):
    """A Sociocs call that did not give a usable answer (used where no Outcome applies)."""


class Channel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    channel_key: str
    name: str | None = None


class UnrepliedMessage(BaseModel):
    """An incoming message Sociocs has seen no reply to (`GET /messages/unreplied`): the fields of an
    incoming-message webhook that the inbox uses; anything else is ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

    message_id: str | None = None
    provider: str | None = None
    channel_key: str | None = None
    from_: str = Field(alias="from")
    name: str | None = None
    text: str | None = None
    timestamp: int | None = None  # milliseconds

    @property
    def number(self) -> str:
        return "+" + "".join(ch for ch in self.from_ if ch.isdigit())


class _SendData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: str | int


class _SendResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str
    data: _SendData | None = None
    errors: list[dict[str, Any]] | None = None


def _error_text(body: Any, fallback: str) -> str:
    """Sociocs's own `errors[].msg` text, or the fallback when the body has none."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            msgs = [str(e.get("msg")) for e in errors if isinstance(e, dict) and e.get("msg")]
            if msgs:
                return "; ".join(msgs)
        for key in ("msg", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return fallback


def _retry_after(response: Reply) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _json(response: Reply) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class SociocsClient(ContactsMixin):
    """Sends messages and lists channels: at most `max_in_flight` messages in flight at once, and as many
    contact lookups in slots of their own (a burst of sends never holds up the form's typeahead, which
    Slack gives 3 s, nor does a lookup take a send's slot)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.sociocs.com",
        timeout: float = 15.0,
        max_in_flight: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: Callable[[Any], None] | None = None,
    ) -> None:
        self._timeout = timeout
        self._on_request = on_request
        self._slots = asyncio.Semaphore(max_in_flight)
        self._lookup_slots = asyncio.Semaphore(max_in_flight)
        connections = 2 * max_in_flight  # both kinds of slot full, and no request waits for a connection
        if transport is None and not getproxies():
            # httpx's requests over aiohttp (see _transport.py: CPU), unless a proxy is configured in
            # the environment: httpx honours it only with its own transport.
            transport = AiohttpTransport(connections, tls=not base_url.startswith("http://"))
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"apikey": api_key, "accept": "application/json", "user-agent": "sociocs-slack-bot"},
            # The pool wait is bounded by our own semaphore, so only connect/read/write time out.
            timeout=httpx.Timeout(timeout, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
        )
        # The hot requests (the send, the contact lookups) skip httpx's request machinery when aiohttp
        # carries them: the same URL and headers as httpx builds, made once here (#18).
        self._direct = transport if isinstance(transport, AiohttpTransport) else None
        sample = self._http.build_request("GET", "/")
        self._base = str(sample.url)  # the base URL ending in "/", as httpx merges paths onto it
        self._headers = {k: v for k, v in sample.headers.items() if k.lower() != "host"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, *, json: Any = None, timeout: float | None = None) -> Reply:
        """`method path` (no query), answered or raising httpx's errors: directly over aiohttp when it
        carries the client's requests, else through httpx (a proxy, or a test's MockTransport)."""
        direct = self._direct
        if direct is None or self._http.cookies:  # cookies Sociocs set are sent back, as httpx does
            extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout, pool=None)}
            return await self._http.request(method, path, json=json, **extra)
        body = None if json is None else encode_json(json)
        answer = await direct.direct(
            method,
            self._base + path.lstrip("/"),
            self._headers if body is None else self._json_headers,
            body,
            self._timeout if timeout is None else timeout,
        )
        if "set-cookie" in answer.headers:
            self._keep_cookies(method, path, answer)
        return answer

    def _keep_cookies(self, method: str, path: str, answer: Reply) -> None:
        """Cookies in a direct answer go to httpx's jar (and later requests through httpx, which sends them)."""
        headers = answer.headers
        raw = headers.multi_items() if isinstance(headers, httpx.Headers) else list(headers.items())
        response = httpx.Response(answer.status_code, headers=raw, request=self._http.build_request(method, path))
        self._http.cookies.extract_cookies(response)

    async def send(self, payload: MessagePayload) -> Outcome:
        """POST /message and classify the answer. Never raises for network or API trouble."""
        body = payload.to_json()
        if self._on_request is not None:
            self._on_request(dict(body))
        async with self._slots:
            try:
                response = await self._request("POST", "/message", json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # The connection was never made, so the message provably did not go out.
                return Outcome.failed(f"could not connect to Sociocs ({type(exc).__name__})", retryable=True)
            except httpx.TimeoutException:
                return Outcome.unknown(f"Sociocs did not answer within {self._timeout:g} s")
            except httpx.TransportError as exc:
                return Outcome.unknown(f"the connection to Sociocs broke ({type(exc).__name__})")
        return self._classify(response)

    @staticmethod
    def _classify(response: Reply) -> Outcome:
        status = response.status_code
        body = _json(response)
        if status == 200:
            try:
                parsed = _SendResponse.model_validate(body)
            except ValidationError:
                return Outcome.unknown("Sociocs answered 200 but the reply could not be read", status)
            if parsed.status == "success" and parsed.data is not None and str(parsed.data.message_id):
                return Outcome.sent(str(parsed.data.message_id))
            if parsed.status == "error":
                return Outcome.failed(_error_text(body, "Sociocs reported an error"), status)
            return Outcome.unknown("Sociocs answered 200 without a message id", status)
        reason = response.reason_phrase or "error"
        if status >= 500:
            return Outcome.unknown(_error_text(body, f"Sociocs server error: {reason}"), status)
        if status == 429:
            return Outcome.failed(
                _error_text(body, "rate limit reached"), status, _retry_after(response), retryable=True
            )
        return Outcome.failed(_error_text(body, reason), status)

    async def subscribe_webhook(
        self, *, provider: Provider, channel_key: str, reference: str, webhook_url: str, secret: str
    ) -> str:
        """POST /webhook-subscriptions for messages and status updates; returns the subscription id.

        The same `reference` again updates the existing subscription instead of adding one.
        """
        body = {
            "platform": "slack",
            "provider": provider.value,
            "channel_key": channel_key,
            "events": ["messages", "status_updates"],
            "subscriber_reference_id": reference,
            "webhook_url": webhook_url,
            "secret": secret,
        }
        try:
            response = await self._http.post("/webhook-subscriptions", json=body)
        except httpx.HTTPError as exc:
            raise SociocsError(f"could not reach Sociocs ({type(exc).__name__})") from None
        answer = _json(response)
        if response.status_code != 200 or not isinstance(answer, dict) or answer.get("status") != "success":
            raise SociocsError(f"HTTP {response.status_code}: {_error_text(answer, response.reason_phrase)}")
        data = answer.get("data") or {}
        return str(data.get("id", ""))

    async def list_channels(self, provider: Provider) -> list[Channel]:
        """GET /channels?provider=P; raises SociocsError with a readable reason on any failure."""
        items = await self._get_list("/channels", params={"provider": provider.value})
        try:
            return [Channel.model_validate(item) for item in items]
        except ValidationError:
            raise SociocsError("unexpected channel entries in GET /channels") from None

    async def _get_list(self, path: str, params: dict[str, str] | None = None) -> list[Any]:
        """GET `path` whose answer's `data` is an array; SociocsError on any failure."""
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise SociocsError(f"could not reach Sociocs ({type(exc).__name__})") from None
        body = _json(response)
        if response.status_code != 200:
            raise SociocsError(f"HTTP {response.status_code}: {_error_text(body, response.reason_phrase)}")
        items = body.get("data", body) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise SociocsError(f"unexpected reply to GET {path}")
        return items

    # Scheduled messages (send later) ----------------------------------------------------------------

    async def list_scheduled(self) -> list[ScheduledAtSociocs]:
        """GET /messages/scheduled: at most 100, latest schedule first; SociocsError on any failure."""
        listed = []
        for item in await self._get_list("/messages/scheduled"):
            if isinstance(item, dict) and (item.get("message_id") or item.get("id")):
                listed.append(
                    ScheduledAtSociocs(str(item.get("message_id") or item.get("id")), str(item.get("schedule") or ""))
                )
        return listed

    async def cancel_scheduled(self, message_id: str) -> CancelAnswer:
        """DELETE /messages/scheduled/{id}. Never raises: the answer says cancelled, refused or unknown."""
        try:
            response = await self._http.delete(f"/messages/scheduled/{quote(message_id, safe='')}")
        except httpx.HTTPError as exc:
            return CancelAnswer(False, False, f"could not reach Sociocs ({type(exc).__name__})", None)
        status = response.status_code
        body = _json(response)
        if status == 200 and not (isinstance(body, dict) and body.get("status") == "error"):
            return CancelAnswer(True, False, None, status)
        error = _error_text(body, response.reason_phrase or "error")
        # 400/404/409: Sociocs will not cancel it (being sent, sent, or gone); 401/429/5xx: try again later.
        return CancelAnswer(False, status in (400, 404, 409, 410, 422), error, status)

    async def unreplied(self) -> list[UnrepliedMessage]:
        """GET /messages/unreplied (Sociocs's default range, the last 90 days); raises SociocsError.
        Entries that cannot be read are skipped, not fatal: the inbox shows the rest."""
        found: list[UnrepliedMessage] = []
        for item in await self._get_list("/messages/unreplied"):
            try:
                found.append(UnrepliedMessage.model_validate(item))
            except ValidationError:
                log.warning("skipped an unreadable entry of GET /messages/unreplied")
        return found


@dataclass(frozen=True, slots=True)
class ScheduledAtSociocs:
    """One entry of GET /messages/scheduled, as much as the bot needs."""

    message_id: str
    schedule: str


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    """Sociocs's answer to a cancel: `refused` means it will not cancel it (sending, sent or gone)."""

    cancelled: bool
    refused: bool
    error: str | None
    http_status: int | None
