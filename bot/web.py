"""The HTTP listener: Slack's request URL plus health, readiness and metrics, as one Starlette app."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.front_door import ASGIApp, Direct, Receive, Scope, Send, slack_endpoint
from bot.metrics import CONTENT_TYPE, METRICS, Metrics


def build_web_app(
    app: AsyncApp | None,
    ready: Callable[[], tuple[bool, str]],
    metrics: Metrics = METRICS,
    extra_routes: Sequence[Route] = (),
    signing_secret: str | None = None,
    direct: Direct | None = None,
    answering: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> ASGIApp:
    """`app` None serves health and metrics only (socket mode, where Slack events arrive over the socket).
    With an `app`, `signing_secret` is required: `/slack/events` verifies every request with it, and
    `direct` may answer some itself (`bot.slack.direct`) before Bolt dispatches the rest;
    `answering` wraps each (`bot.tasks.Background.answering`: work they start waits for the answers).

    `POST /slack/events` is served by a bare ASGI app ahead of Starlette: it is the path whose latency
    Slack counts, and Starlette's request, routing and response objects cost as much as the signature
    check. Everything else is Starlette's.
    """

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok, why = ready()
        return JSONResponse({"status": "ready" if ok else "not ready", "detail": why}, status_code=200 if ok else 503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    if app is None:
        return Starlette(routes=[*routes, *extra_routes])  # e.g. POST /sociocs/webhook, in both modes
    if not signing_secret:
        raise ValueError("serving /slack/events needs the signing secret")
    handle = slack_endpoint(app, signing_secret, direct)
    routes.append(Route("/slack/events", _never, methods=["POST"]))  # other methods: Starlette's 405
    site = Starlette(routes=[*routes, *extra_routes])

    async def web(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/slack/events" and scope["method"] == "POST":
            # Bolt answers as soon as the listener acknowledges (the send runs afterwards), so this is
            # the time Slack waits for its answer, refused requests included.
            with metrics.timing_slack_ack(), answering():
                await handle(scope, receive, send)
        else:
            await site(scope, receive, send)

    return web


async def _never(_: Request) -> Any:
    raise AssertionError("POST /slack/events is served ahead of Starlette")
