"""The HTTP listener: Slack's request URL plus health and readiness, as one Starlette app."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build_web_app(app: AsyncApp | None, ready: Callable[[], tuple[bool, str]]) -> Starlette:
    """`app` None serves health only (socket mode, where Slack events arrive over the socket)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok, why = ready()
        return JSONResponse({"status": "ready" if ok else "not ready", "detail": why}, status_code=200 if ok else 503)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
    if app is not None:
        handler = AsyncSlackRequestHandler(app)

        async def events(request: Request) -> Response:
            return await handler.handle(request)

        routes.append(Route("/slack/events", events, methods=["POST"]))
    return Starlette(routes=routes)
