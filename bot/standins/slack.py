"""A Slack Web API stand-in: the methods the bot calls, with Slack's token checks and error shapes."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


class SlackStandin(LocalServer):
    """Serves `/api/<method>` and `/response/<id>`; records every call in order."""

    def __init__(
        self,
        bot_token: str = "xoxb-standin",
        app_token: str | None = None,
        workspace: SlackWorkspace | None = None,
        on_call: Callable[[SlackCall], None] | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.workspace = workspace or SlackWorkspace()
        self.on_call = on_call
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._sockets: set[web.WebSocketResponse] = set()

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
        return app

    # Queries for tests -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

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
        unsafe = mention_refusal("response_url", body) if isinstance(body, dict) else None
        self._remember(SlackCall("response_url", body, None, request.match_info["name"], response=unsafe or {}))
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
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        name = self.workspace.users.get(user)
        if name is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "name": name, "profile": {"display_name": name, "real_name": name}}}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup", ""))
        if group not in self.workspace.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.workspace.usergroups[group])}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        name = self.workspace.channels.get(channel)
        if name is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, "name": name}}

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
