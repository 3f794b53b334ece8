"""A Sociocs API stand-in that enforces the documented contract of `POST /message` and `GET /channels`.

It refuses what Sociocs refuses (a wrong or missing `apikey`, a missing or unknown field, a bad
provider or channel key, no content) with Sociocs's error body, and can be scripted per recipient to
answer like a rate-limited, failing or slow Sociocs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.standins._server import LocalServer
from standins import sociocs_contacts

PROVIDERS = ("twlo", "twlowa", "gswa")
_FIELDS = {
    "provider",
    "channel_key",
    "to",
    "name",
    "text",
    "image_url",
    "image_urls",
    "file_url",
    "video_url",
    "template",
    "schedule",
    "user_id",
    "contact_saving",
}
_E164 = re.compile(r"^\+?[1-9]\d{6,14}$")
_OFFSET = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")
MAX_SCHEDULED_LISTED = 100  # GET /messages/scheduled: at most 100, latest schedule first, no paging


def schedule_problem(value: Any) -> str | None:
    """Why `schedule` is not ISO 8601 with an offset (`2026-12-01T09:00:00-05:00`), or None."""
    if not isinstance(value, str) or not _OFFSET.search(value):
        return "Invalid schedule: use ISO 8601 with a UTC offset."
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "Invalid schedule: use ISO 8601 with a UTC offset."
    return None if parsed.tzinfo is not None else "Invalid schedule: use ISO 8601 with a UTC offset."


@dataclass(frozen=True)
class SociocsCall:
    method: str
    path: str
    body: Any
    apikey_ok: bool
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """A scripted answer: an HTTP status and body, optionally after a delay."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def error_body(msg: str) -> dict[str, Any]:
    return {"status": "error", "errors": [{"msg": msg}]}


class SociocsStandin(LocalServer):
    def __init__(
        self,
        api_key: str = "user:secret",
        channel_keys: dict[str, list[str]] | None = None,
        latency: float = 0.0,
        lookup_latency: float | None = None,
    ) -> None:
        """`latency`: seconds before each answer; `lookup_latency`: for the contacts endpoints (default the same)."""
        super().__init__()
        self.api_key = api_key
        self.channel_keys = channel_keys if channel_keys is not None else {"twlo": ["ck-twlo"], "twlowa": ["ck-twlowa"]}
        self.latency = latency
        self.lookup_latency = latency if lookup_latency is None else lookup_latency
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._subscription_ids: dict[str, int] = {}
        # Scheduled messages not yet due: message id -> what GET /messages/scheduled lists.
        self.scheduled: dict[str, dict[str, Any]] = {}
        self._due: dict[str, float] = {}  # message id -> epoch of its schedule
        self.skew = 0.0  # seconds added to the stand-in's clock (`advance`), so a test can pass a schedule
        self.contacts_data = sociocs_contacts.ContactsData()
        # Incoming messages not replied to, as `GET /messages/unreplied` lists them (a test adds them).
        self.unreplied: list[dict[str, Any]] = []

    def now(self) -> float:
        return time.time() + self.skew

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock on: scheduled messages whose time passes are being sent."""
        self.skew += seconds

    def cancel_in_app(self, message_id: str) -> None:
        """Someone cancels the message in Sociocs's own app (the bot is not told)."""
        with self._lock:
            self.scheduled.pop(message_id, None)
            self._due.pop(message_id, None)

    def _pending(self) -> list[dict[str, Any]]:
        """Scheduled messages whose time has not come, latest schedule first."""
        now = self.now()
        with self._lock:
            ids = [i for i, due in self._due.items() if due > now]
            ids.sort(key=lambda i: self._due[i], reverse=True)
            return [dict(self.scheduled[i]) for i in ids]

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/message", self._message)
        app.router.add_get("/channels", self._channels)
        app.router.add_post("/webhook-subscriptions", self._subscribe)
        app.router.add_get("/messages/scheduled", self._list_scheduled)
        app.router.add_delete("/messages/scheduled/{message_id}", self._delete_scheduled)
        sociocs_contacts.routes(self, app)
        app.router.add_get("/messages/unreplied", self._unreplied)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    def script(self, to: str, *replies: Reply) -> None:
        """Answer the next requests to `to` (E.164 as sent) with `replies`, in order, then normally."""
        with self._lock:
            self._scripts[to].extend(replies)

    def add_contact(self, number: str, name: str, *, blocked: bool = False) -> None:
        """A Sociocs contact (`number` in E.164), found by search, get and isblocked."""
        digits = number.lstrip("+")
        with self._lock:
            ident = len(self.contacts_data.contacts) + 1
            self.contacts_data.contacts[digits] = sociocs_contacts.contact_object(digits, name, blocked, ident)

    def add_team_member(self, **member: Any) -> None:
        """A team member as GET /team-members returns it (its fields are up to the test)."""
        with self._lock:
            self.contacts_data.team_members.append(dict(member))

    def script_search(self, *replies: Reply) -> None:
        """Answer the next contact searches with `replies` (an error, or a delay), then normally."""
        with self._lock:
            self.contacts_data.search_replies.extend(replies)

    def script_lookup(self, number: str, *replies: Reply) -> None:
        """Answer the next `GET /contacts/{number}` with `replies` (an error, or a delay), then normally."""
        with self._lock:
            self.contacts_data.lookup_replies.setdefault(number.lstrip("+"), []).extend(replies)

    def subscriptions(self) -> list[SociocsCall]:
        return [c for c in self.calls if c.path == "/webhook-subscriptions"]

    async def _subscribe(self, request: web.Request) -> web.Response:
        ok = self._apikey_ok(request)
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        self._record(SociocsCall("POST", "/webhook-subscriptions", body, ok))
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        if not isinstance(body, dict):
            return web.json_response(error_body("Malformed request body."), status=400)
        for name in ("platform", "provider", "channel_key", "subscriber_reference_id", "webhook_url"):
            if not isinstance(body.get(name), str) or not body[name]:
                return web.json_response(error_body(f"{name} is required."), status=400)
        if body["provider"] not in PROVIDERS:
            return web.json_response(error_body("Invalid provider."), status=400)
        if body["channel_key"] not in self.channel_keys.get(body["provider"], []):
            return web.json_response(error_body("Invalid channel_key."), status=400)
        events = body.get("events", ["messages"])
        if not isinstance(events, list) or not set(events) <= {"messages", "status_updates"}:
            return web.json_response(error_body("Invalid events."), status=400)
        with self._lock:
            sub_id = self._subscription_ids.setdefault(body["subscriber_reference_id"], len(self._subscription_ids) + 1)
        return web.json_response({"status": "success", "data": {"id": sub_id}})

    async def _unreplied(self, request: web.Request) -> web.Response:
        """`GET /messages/unreplied?start_date=&end_date=`: dates `YYYY-MM-DD` (default: the last 90
        days, to today), anything else refused with 400; the messages received in that range."""
        ok = self._apikey_ok(request)
        self._record(SociocsCall("GET", "/messages/unreplied", dict(request.query), ok))
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        today = datetime.now(UTC).date()
        bounds: dict[str, date] = {"start_date": today - timedelta(days=90), "end_date": today}
        for name in bounds:
            value = request.query.get(name)
            if value is None:
                continue
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError(value)
                bounds[name] = date.fromisoformat(value)
            except ValueError:
                return web.json_response(error_body(f"Invalid {name}."), status=400)
        if bounds["start_date"] > bounds["end_date"]:
            return web.json_response(error_body("start_date is after end_date."), status=400)
        with self._lock:
            found = [
                m
                for m in self.unreplied
                if bounds["start_date"]
                <= datetime.fromtimestamp(int(m.get("timestamp", 0)) / 1000, UTC).date()
                <= bounds["end_date"]
            ]
        return web.json_response({"status": "success", "data": found})

    def messages(self) -> list[SociocsCall]:
        return [c for c in self.calls if c.path == "/message"]

    def _apikey_ok(self, request: web.Request) -> bool:
        return request.headers.get("apikey") == self.api_key

    async def _not_found(self, request: web.Request) -> web.Response:
        self._record(SociocsCall(request.method, request.path, None, self._apikey_ok(request)))
        return web.json_response(error_body("Not found."), status=404)

    async def _channels(self, request: web.Request) -> web.Response:
        ok = self._apikey_ok(request)
        self._record(SociocsCall("GET", "/channels", dict(request.query), ok))
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        provider = request.query.get("provider")
        if provider not in PROVIDERS:
            return web.json_response(error_body("Invalid provider."), status=400)
        keys = self.channel_keys.get(provider, [])
        return web.json_response(
            [{"id": i + 1, "channel_key": k, "name": f"{provider} channel {i + 1}"} for i, k in enumerate(keys)]
        )

    async def _message(self, request: web.Request) -> web.Response:
        ok = self._apikey_ok(request)
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "apikey"}
        self._record(SociocsCall("POST", "/message", body, ok, headers))
        if self.latency:
            await asyncio.sleep(self.latency)
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        if request.content_type != "application/json" or not isinstance(body, dict):
            return web.json_response(error_body("Malformed request body."), status=400)
        problem = self._check(body)
        if problem:
            return web.json_response(error_body(problem), status=400)
        reply = None
        with self._lock:
            queue = self._scripts.get(str(body["to"]))
            if queue:
                reply = queue.popleft()
        if reply is not None:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.body is not None or reply.status != 200:
                return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        message_id = f"SM{next(self._ids):08d}"
        if "schedule" in body:
            due = datetime.fromisoformat(body["schedule"]).timestamp()
            if due > self.now():  # a past time is sent at once, as Sociocs does
                with self._lock:
                    self._due[message_id] = due
                    self.scheduled[message_id] = {
                        "message_id": message_id,
                        "provider": body["provider"],
                        "to": body["to"],
                        "text": body.get("text"),
                        "schedule": body["schedule"],
                    }
        return web.json_response({"status": "success", "data": {"message_id": message_id}})

    async def _list_scheduled(self, request: web.Request) -> web.Response:
        ok = self._apikey_ok(request)
        self._record(SociocsCall("GET", "/messages/scheduled", dict(request.query), ok))
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        return web.json_response({"status": "success", "data": self._pending()[:MAX_SCHEDULED_LISTED]})

    async def _delete_scheduled(self, request: web.Request) -> web.Response:
        ok = self._apikey_ok(request)
        message_id = request.match_info["message_id"]
        self._record(SociocsCall("DELETE", f"/messages/scheduled/{message_id}", None, ok))
        if not ok:
            return web.json_response(error_body("Invalid API key."), status=401)
        with self._lock:
            due = self._due.get(message_id)
            if due is None:
                return web.json_response(error_body("Scheduled message not found."), status=404)
            if due <= self.now():
                return web.json_response(
                    error_body("The message is being sent or has been sent; it cannot be cancelled."), status=400
                )
            del self._due[message_id]
            del self.scheduled[message_id]
        return web.json_response({"status": "success", "data": {"message_id": message_id}})

    def _check(self, body: dict[str, Any]) -> str | None:
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            return f"Unknown field: {unknown[0]}."
        provider = body.get("provider")
        if provider not in PROVIDERS:
            return "Invalid provider."
        if body.get("channel_key") not in self.channel_keys.get(str(provider), []):
            return "Invalid channel_key."
        to = body.get("to")
        if not isinstance(to, str) or not _E164.match(to):
            return "Invalid phone number."
        for name in ("name", "text", "image_url", "file_url"):
            if name in body and (not isinstance(body[name], str) or not body[name]):
                return f"Invalid {name}."
        if "image_urls" in body and (
            not isinstance(body["image_urls"], list)
            or not body["image_urls"]
            or not all(isinstance(u, str) and u for u in body["image_urls"])
        ):
            return "Invalid image_urls."
        if "schedule" in body and (problem := schedule_problem(body["schedule"])) is not None:
            return problem
        if not any(k in body for k in ("text", "image_url", "image_urls", "file_url", "video_url", "template")):
            return "Message content is missing."
        return _whatsapp_problem(body)


# WhatsApp (Sociocs's current documentation): media only on twlo; `template` only on twlowa and gswa,
# each in its own shape; a template is sent as approved, so never with `text`.
_MEDIA = ("image_url", "image_urls", "file_url", "video_url")
_GSWA_COMPONENTS = {"Header", "Body", "Buttons"}


def _whatsapp_problem(body: dict[str, Any]) -> str | None:
    provider = body["provider"]
    if "video_url" in body and (not isinstance(body["video_url"], str) or not body["video_url"]):
        return "Invalid video_url."
    if provider != "twlo":
        media = [m for m in _MEDIA if m in body]
        if media:
            return f"{media[0]} is supported for twlo only."
    if "template" not in body:
        return None
    if provider == "twlo":
        return "template is supported for twlowa and gswa only."
    if "text" in body:
        return "text cannot be sent with a template."
    return _template_problem(provider, body["template"])


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and k.isdigit() and isinstance(v, str) and v for k, v in value.items()
    )


def _template_problem(provider: str, template: Any) -> str | None:
    if not isinstance(template, dict) or not isinstance(template.get("id"), str) or not template["id"]:
        return "Invalid template: id is required."
    if set(template) - {"id", "variables"}:
        return "Invalid template: only id and variables."
    if "variables" not in template:
        return None
    variables = template["variables"]
    if provider == "twlowa":
        return None if _strings(variables) else 'Invalid template variables: {"1": "value", ...} for twlowa.'
    if not isinstance(variables, dict) or set(variables) - _GSWA_COMPONENTS - {"MEDIA_URL"}:
        return "Invalid template variables: Header, Body, Buttons and MEDIA_URL for gswa."
    if "MEDIA_URL" in variables and (not isinstance(variables["MEDIA_URL"], str) or not variables["MEDIA_URL"]):
        return "Invalid template variables: MEDIA_URL must be a URL."
    if not all(_strings(variables[c]) for c in _GSWA_COMPONENTS & set(variables)):
        return "Invalid template variables: each component maps numbers to text."
    return None
