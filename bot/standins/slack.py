"""A Slack Web API stand-in: the methods the bot calls, with Slack's token checks, error shapes and limits.

Slack's documented limits are enforced by default, so every test and the console run under real
conditions (https://api.slack.com/docs/rate-limits, https://docs.slack.dev/apis/web-api/rate-limits):

- Web API methods are limited "per API method per app per workspace" by tier: Tier 1 "1+ per minute",
  Tier 2 "20+ per minute", Tier 3 "50+ per minute" ("sporadic bursts are welcome"), Tier 4 "100+ per
  minute" ("generous burst behavior"). Each method's tier is the one on its reference page
  (chat.update Tier 3; chat.postEphemeral, views.open/update/push/publish, users.info Tier 4; conversations.info
  Tier 3; usergroups.users.list Tier 2; auth.test Special, treated as Tier 4).
- chat.postMessage is Special tier: "generally allows posting one message per second per channel",
  "short bursts >1 allowed": modelled as a burst of 3, then one a second per channel.
- Over a limit Slack answers HTTP 429 with a `Retry-After` header (seconds) and
  `{"ok": false, "error": "ratelimited"}`; the stand-in does the same and counts each one.
- A message holds at most 50 blocks, and a section's text at most 3,000 characters
  (Block Kit reference); more is refused with `invalid_blocks`.
- Files (`files.info`, Tier 4) are downloaded from their `url_private_download` only with the bot token
  as a bearer token (`Authorization: Bearer xoxb-…`): without it, or with another, 401 and no bytes.
- A `response_url` "can be used up to 5 times within 30 minutes" (slash commands, "Delayed responses
  and multiple responses"); a sixth use is refused with 404 `used_url`.

`SlackStandin(limits=False)` turns the rate limits off: only for a test or benchmark that needs it
and says why. Block and response_url limits always apply.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.views import View

from bot.slack.views import check_view
from bot.standins._server import LocalServer


@dataclass(frozen=True)
class SlackCall:
    """One request the bot made: a Web API method, or a POST to a `response_url` (method `response_url`)."""

    method: str
    args: dict[str, Any]
    token: str | None = None
    path: str = ""
    response: dict[str, Any] = field(default_factory=dict, compare=False)


# A channel-wide ping: Slack's markup anywhere, or the bare word where Slack parses mrkdwn (not verbatim).
_PING_MARKUP = re.compile(r"<!(?:here|channel|everyone)\b", re.IGNORECASE)
_PING_WORD = re.compile(r"@(?:here|channel|everyone)\b", re.IGNORECASE)
_CHECKED = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"})


def _unsafe_texts(node: Any) -> list[str]:
    """Every mrkdwn text in `node` (blocks, at any depth) that could mention a whole channel."""
    found: list[str] = []
    if isinstance(node, list):
        for item in node:
            found += _unsafe_texts(item)
    elif isinstance(node, dict):
        text = node.get("text")
        pings = isinstance(text, str) and (
            _PING_MARKUP.search(text) or (not node.get("verbatim") and _PING_WORD.search(text))
        )
        if node.get("type") == "mrkdwn" and pings:
            found.append(str(text))
        for value in node.values():
            if isinstance(value, list | dict):
                found += _unsafe_texts(value)
    return found


def mention_refusal(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Refuse, as `invalid_blocks`, a message whose blocks could ping @here/@channel/@everyone.

    The bot never means to: such a ping can only come from user or customer text rendered where
    Slack parses it, so the stand-in fails the call (and tests see it) instead of posting it.
    """
    if method not in _CHECKED:
        return None
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except json.JSONDecodeError:
            return None
    unsafe = _unsafe_texts(blocks or [])
    fallback = args.get("text")
    if isinstance(fallback, str) and _PING_MARKUP.search(fallback):
        unsafe.append(fallback)
    if not unsafe:
        return None
    return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": ["could mention: " + unsafe[0]]}}


# Requests per minute per workspace, by method (Slack's tiers); chat.postMessage is paced per channel.
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
    "users.info": 4,
    "conversations.info": 3,
    "usergroups.users.list": 2,
    "users.list": 2,
    "auth.test": 4,
    "apps.connections.open": 1,
    "files.info": 4,
}
POST_BURST = 3  # chat.postMessage per channel: a short burst, then
POST_PER_SECOND = 1.0  # one a second
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
RESPONSE_URL_USES = 5
MAX_VIEW_BYTES = 250 * 1024  # views.publish: view_too_large "if the provided view is greater than 250kb"
RESPONSE_URL_WINDOW = 30 * 60.0


class TokenBucket:
    """`capacity` requests at once, refilled at `rate` a second (time.monotonic)."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when a request may go now (and counts it), else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


MAX_OPTIONS = 100  # an options request's answer: at most 100 options (each text ≤ 75, value ≤ 150)


def options_problem(answer: Any) -> str | None:
    """Why Slack would show nothing for this answer to an options request (block_suggestion), or None.

    Slack takes `{"options": [...]}` of option objects (plain_text text of at most 75 characters, a value
    of at most 150) or `{"option_groups": [...]}`, at most 100 options, within 3 seconds."""
    from slack_sdk.models.blocks import Option

    if not isinstance(answer, dict) or not isinstance(answer.get("options", answer.get("option_groups")), list):
        return "not an object with options or option_groups"
    options = answer.get("options") or [o for g in answer.get("option_groups") or [] for o in g.get("options", [])]
    if len(options) > MAX_OPTIONS:
        return f"more than {MAX_OPTIONS} options"
    for option in options:
        text = (option.get("text") or {}) if isinstance(option, dict) else {}
        if text.get("type") != "plain_text" or not isinstance(option.get("value"), str):
            return "an option needs plain_text text and a string value"
        try:
            Option(value=option["value"], text=text.get("text")).validate_json()
        except SlackObjectFormationError as exc:
            return str(exc)
    return None


def block_problem(blocks: Any) -> str | None:
    """Why Slack would refuse these message blocks (50 blocks, 3,000 characters of section text), or None."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except json.JSONDecodeError:
            return "invalid_blocks_format"
    if not blocks:
        return None
    if not isinstance(blocks, list):
        return "invalid_blocks_format"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        text = (block.get("text") or {}).get("text") if isinstance(block, dict) else None
        if isinstance(text, str) and len(text) > MAX_SECTION_TEXT:
            return "invalid_blocks"
    return None


@dataclass
class StandinFile:
    """A file uploaded to the stand-in workspace. `url` stores it elsewhere (an external file);
    `redirect_to` makes its download answer 302 to that URL."""

    file_id: str
    name: str
    mimetype: str
    content: bytes
    url: str | None = None
    redirect_to: str | None = None


@dataclass
class SlackWorkspace:
    """The little world the stand-in answers about."""

    team_id: str = "T0STANDIN"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    users: dict[str, str] = field(default_factory=lambda: {"U0SENDER": "jane.sender"})
    channels: dict[str, str] = field(default_factory=lambda: {"C0GENERAL": "general"})
    # chat.postMessage into these channels fails with the given error (e.g. "not_in_channel").
    closed_channels: dict[str, str] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    # Each user's time zone as users.info gives it (`tz`); others have the workspace's default.
    zones: dict[str, str] = field(default_factory=dict)
    default_zone: str = "America/Los_Angeles"
    # users.info shows `profile.email` for these users (Slack does with the users:read.email scope).
    emails: dict[str, str] = field(default_factory=dict)
    # Archived channels: conversations.info says `is_archived`, chat.postMessage fails with `is_archived`.
    archived_channels: set[str] = field(default_factory=set)


class SlackStandin(LocalServer):
    """Serves `/api/<method>` and `/response/<id>`; records every call in order."""

    def __init__(
        self,
        bot_token: str = "xoxb-standin",
        app_token: str | None = None,
        workspace: SlackWorkspace | None = None,
        on_call: Callable[[SlackCall], None] | None = None,
        *,
        limits: bool = True,
    ) -> None:
        """`limits` False turns the rate limits off (a test or benchmark that needs it says why)."""
        super().__init__()
        self.limits = limits
        self._buckets: dict[str, TokenBucket] = {}
        self._limit_lock = threading.Lock()
        self._ratelimited: list[SlackCall] = []
        self._response_uses: dict[str, list[float]] = {}
        # The current text and blocks of every message posted (chat.update edits them): (channel, ts) ->.
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        # The Home tab each user was last published (views.publish).
        self.homes: dict[str, dict[str, Any]] = {}
        # Thread replies and edits in these channels wait until released (a test's way to cut one off).
        self.held: dict[str, asyncio.Event] = {}
        self.bot_token = bot_token
        self.app_token = app_token
        self.workspace = workspace or SlackWorkspace()
        self.on_call = on_call
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._sockets: set[web.WebSocketResponse] = set()
        self.files: dict[str, StandinFile] = {}
        self._file_ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/response/{name}"

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/files-pri/{team_file}/{name}", self._download)  # url_private
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._download)  # url_private_download
        return app

    def add_file(
        self, name: str, content: bytes, mimetype: str, *, url: str | None = None, redirect_to: str | None = None
    ) -> dict[str, Any]:
        """Upload a file; returns its Slack file object as a message's `files` or a file_input carry it."""
        file_id = f"F{next(self._file_ids):010d}"
        self.files[file_id] = StandinFile(file_id, name, mimetype, content, url, redirect_to)
        return self.file_object(file_id)

    def file_object(self, file_id: str) -> dict[str, Any]:
        file = self.files[file_id]
        download = file.url or f"{self.url}/files-pri/{self.workspace.team_id}-{file_id}/download/{file.name}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": file.name,
            "title": file.name,
            "mimetype": file.mimetype,
            "filetype": file.name.rsplit(".", 1)[-1].lower(),
            "size": len(file.content),
            "mode": "hosted" if file.url is None else "external",
            "is_external": file.url is not None,
            "url_private": download.replace("/download/", "/", 1),
            "url_private_download": download,
        }

    # Queries for tests -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def ratelimited(self, channel: str | None = None) -> list[SlackCall]:
        """The requests answered 429 (not in `calls`), optionally only those for one channel."""
        with self._limit_lock:
            hits = list(self._ratelimited)
        return [c for c in hits if channel is None or c.args.get("channel") == channel]

    def hold(self, channel: str) -> None:
        """Thread replies and edits in `channel` wait (unanswered; recorded as method `held`) until `release`."""
        self.held[channel] = asyncio.Event()

    def release(self, channel: str) -> None:
        """Answer the held posts with a server error (they never landed) and stop holding."""
        event = self.held.pop(channel, None)
        if event is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(event.set)

    def current(self, channel: str, ts: str) -> dict[str, Any] | None:
        """A posted message as it reads now (text and blocks after every chat.update)."""
        with self._limit_lock:
            message = self.messages.get((channel, ts))
            return dict(message) if message else None

    def _limited(self, method: str, args: dict[str, Any]) -> float:
        """0 when the call is within Slack's rate limits (and counts it), else the Retry-After seconds."""
        if not self.limits:
            return 0.0
        if method == "chat.postMessage":
            key = "post:" + str(args.get("channel", ""))
            capacity, rate = float(POST_BURST), POST_PER_SECOND
        elif method in METHOD_TIER:
            per_minute = TIER_PER_MINUTE[METHOD_TIER[method]]
            key, capacity, rate = "tier:" + method, float(per_minute), per_minute / 60.0
        else:
            return 0.0
        with self._limit_lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(capacity, rate)
            return bucket.take()

    # Handlers ----------------------------------------------------------------------------------------

    def _remember(self, call: SlackCall) -> None:
        self._record(call)
        if self.on_call is not None:
            self.on_call(call)

    async def _response_url(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        name = request.match_info["name"]
        now = time.monotonic()
        with self._limit_lock:
            uses = [t for t in self._response_uses.get(name, []) if now - t < RESPONSE_URL_WINDOW]
            if len(uses) >= RESPONSE_URL_USES:
                return web.json_response({"ok": False, "error": "used_url"}, status=404)
            uses.append(now)
            self._response_uses[name] = uses
        problem = block_problem(body.get("blocks")) if isinstance(body, dict) else None
        if problem:
            return web.json_response({"ok": False, "error": problem}, status=400)
        unsafe = mention_refusal("response_url", body) if isinstance(body, dict) else None
        self._remember(SlackCall("response_url", body, None, name, response=unsafe or {}))
        if unsafe is not None:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    args.update(await request.json())
                except json.JSONDecodeError:
                    return web.json_response({"ok": False, "error": "invalid_json"})
            else:
                args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
        replying = (method == "chat.postMessage" and args.get("thread_ts")) or method == "chat.update"
        held = self.held.get(str(args.get("channel", ""))) if replying else None
        if held is not None:
            self._record(SlackCall("held", args, token))
            await held.wait()
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        wait = self._limited(method, args) if token == self.bot_token else 0.0
        if wait > 0:
            with self._limit_lock:
                self._ratelimited.append(SlackCall(method, args, token))
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(max(1, math.ceil(wait)))}
            )
        result = self._answer(method, args, token)
        self._remember(SlackCall(method, args, token, response=result))
        return web.json_response(result)

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "apps.connections.open":
            if token is None or token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url()}
        if token != self.bot_token:
            return {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        unsafe = mention_refusal(method, args)
        if unsafe is not None:
            return unsafe
        result: dict[str, Any] = handler(args)
        return result

    async def _download(self, request: web.Request) -> web.Response:
        """A file's bytes, only with the bot token as a bearer token (Slack's url_private rule)."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        _, _, file_id = request.match_info["team_file"].partition("-")
        self._remember(SlackCall("file_download", {"file": file_id}, token, path=request.path))
        if token != self.bot_token:
            return web.Response(status=401, text="not_authed")
        file = self.files.get(file_id)
        if file is None or file.url is not None:
            return web.Response(status=404, text="file_not_found")
        if file.redirect_to is not None:
            return web.Response(status=302, headers={"Location": file.redirect_to})
        return web.Response(body=file.content, content_type=file.mimetype)

    def socket_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/socket"

    # Socket Mode: a websocket that says hello, carries envelopes to the bot and records its acks. ---

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        self._remember(SlackCall("socket_connect", {}))
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0STANDIN"}})
        try:
            async for message in ws:
                if message.type == web.WSMsgType.TEXT:
                    self._remember(SlackCall("socket_ack", json.loads(message.data)))
        finally:
            self._sockets.discard(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (e.g. a slash command) to every connected bot; callable from any thread."""
        loop = self._loop
        assert loop is not None, "push needs the stand-in running in its own thread"

        async def send() -> None:
            for ws in list(self._sockets):
                await ws.send_json(envelope)

        asyncio.run_coroutine_threadsafe(send(), loop).result(5)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _m_auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        w = self.workspace
        return {
            "ok": True,
            "url": "https://standin.slack.com/",
            "team": "Stand-in",
            "user": "sociocs",
            "team_id": w.team_id,
            "user_id": w.bot_user_id,
            "bot_id": w.bot_id,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.workspace.closed_channels:
            return {"ok": False, "error": self.workspace.closed_channels[channel]}
        if channel in self.workspace.archived_channels:
            return {"ok": False, "error": "is_archived"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        problem = block_problem(args.get("blocks"))
        if problem:
            return {"ok": False, "error": problem}
        ts = self._next_ts()
        with self._limit_lock:
            self.messages[(channel, ts)] = {"text": args.get("text"), "blocks": args.get("blocks")}
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = block_problem(args.get("blocks"))
        if problem:
            return {"ok": False, "error": problem}
        with self._limit_lock:
            key = (str(args.get("channel")), str(args.get("ts")))
            if key in self.messages:
                self.messages[key] = {"text": args.get("text"), "blocks": args.get("blocks")}
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        name = self.workspace.users.get(user)
        if name is None:
            return {"ok": False, "error": "user_not_found"}
        profile = {"display_name": name, "real_name": name}
        if user in self.workspace.emails:
            profile["email"] = self.workspace.emails[user]
        zone = self.workspace.zones.get(user, self.workspace.default_zone)
        local = datetime.now(ZoneInfo(zone))
        offset = local.utcoffset()
        return {
            "ok": True,
            "user": {
                "id": user,
                "name": name,
                "profile": profile,
                "tz": zone,
                "tz_label": local.tzname(),
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            },
        }

    def _m_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        members = []
        for user, name in self.workspace.users.items():
            profile = {"display_name": name, "real_name": name}
            if user in self.workspace.emails:
                profile["email"] = self.workspace.emails[user]
            members.append({"id": user, "name": name, "deleted": False, "is_bot": False, "profile": profile})
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup", ""))
        if group not in self.workspace.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.workspace.usergroups[group])}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        name = self.workspace.channels.get(channel)
        if name is None and channel.startswith("C") and channel not in self.workspace.closed_channels:
            name = channel.lower()  # any C… id is a public channel the bot can post in
        if name is None:
            return {"ok": False, "error": "channel_not_found"}
        # A private channel the bot is not in is `channel_not_found` (a closed channel above); public
        # ones it can post in without joining (chat:write.public), so only the listed ones count as joined.
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": name,
                "is_channel": True,
                "is_private": False,
                "is_archived": channel in self.workspace.archived_channels,
                "is_member": channel in self.workspace.channels,
            },
        }

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = str(args.get("file", ""))
        if file_id not in self.files:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": self.file_object(file_id)}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            return {"ok": False, "error": "invalid_arguments"}
        try:  # Slack refuses a view that breaks Block Kit's limits
            View(**view).validate_json()
            check_view(view)
        except (SlackObjectFormationError, ValueError, TypeError) as exc:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [str(exc)]}}
        return {"ok": True, "view": {**view, "id": f"V{next(self._views):08d}", "hash": f"h{next(self._views)}"}}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view(args)

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """A Home tab for `user_id`: a `home` view (at most 100 blocks, 250 kB), kept per user in `homes`."""
        user = str(args.get("user_id") or "")
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": ["invalid `user_id`"]}}
        view = args.get("view")
        raw = view if isinstance(view, str) else json.dumps(view or {})
        if len(raw.encode()) > MAX_VIEW_BYTES:
            return {"ok": False, "error": "view_too_large"}
        parsed = json.loads(raw)
        if not isinstance(parsed, dict) or parsed.get("type") != "home":
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["must be a home view"]},
            }
        published = self._view({"view": parsed})
        if published.get("ok"):
            with self._limit_lock:
                self.homes[user] = parsed
        return published
