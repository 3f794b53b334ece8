"""Serving Slack: HTTP mode under uvicorn, or Socket Mode with uvicorn serving health beside it.

On SIGTERM or SIGINT the bot turns unready, stops taking requests, lets sends already in flight
finish (up to SHUTDOWN_GRACE_SECONDS) so their outcomes are posted, then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from bot.config import Settings
from bot.slack.app import build_bot
from bot.web import build_web_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: the bot decides when and how to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings) -> int:
    bot = await build_bot(settings)
    stopping = asyncio.Event()
    socket_handler = None

    if settings.mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        socket_handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())

    def ready() -> tuple[bool, str]:
        if stopping.is_set():
            return False, "shutting down"
        if socket_handler is not None and not socket_handler.client.is_connected():
            return False, "socket mode not connected"
        return True, f"{settings.mode} mode"

    web = build_web_app(bot.app if socket_handler is None else None, ready)
    server = _Server(
        uvicorn.Config(
            web,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
    )

    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stopping.is_set():
            return
        log.info("received %s: finishing %d send(s) in flight, then stopping", sig.name, bot.background.in_flight)
        stopping.set()
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)

    if socket_handler is not None:
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in socket mode")
    log.info("listening on %s:%d (%s mode)", settings.host, settings.port, settings.mode)
    try:
        await server.serve()
    finally:
        stopping.set()
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        finished = await bot.background.drain(settings.shutdown_grace_seconds)
        if not finished:
            log.warning("shutdown grace period over with %d send(s) still in flight", bot.background.in_flight)
        await bot.aclose()
    log.info("stopped")
    return 0
