"""The HTTP listener: Slack's request URL plus health, readiness and metrics, as one Starlette app."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.front_door import slack_endpoint
from bot.metrics import CONTENT_TYPE, METRICS, Metrics


def build_web_app(
    app: AsyncApp | None,
    ready: Callable[[], tuple[bool, str]],
    metrics: Metrics = METRICS,
    extra_routes: Sequence[Route] = (),
    signing_secret: str | None = None,
) -> Starlette:
    """`app` None serves health and metrics only (socket mode, where Slack events arrive over the socket).
    With an `app`, `signing_secret` is required: `/slack/events` verifies every request with it."""

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
    if app is not None:
        if not signing_secret:
            raise ValueError("serving /slack/events needs the signing secret")
        handle = slack_endpoint(app, signing_secret)

        async def events(request: Request) -> Response:
            # Bolt answers as soon as the listener acknowledges (the send runs afterwards), so this is
            # the time Slack waits for its answer, refused requests included.
            with metrics.timing_slack_ack():
                return await handle(request)

        routes.append(Route("/slack/events", events, methods=["POST"]))
    routes.extend(extra_routes)  # e.g. POST /sociocs/webhook, served in both modes
    return Starlette(routes=routes)
