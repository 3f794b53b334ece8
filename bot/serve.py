"""Serving Slack: HTTP mode under uvicorn, or Socket Mode with uvicorn serving health beside it.

On SIGTERM or SIGINT the bot turns unready, stops taking requests, lets sends already in flight
finish (up to SHUTDOWN_GRACE_SECONDS) so their outcomes are posted, then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot._uvicorn import Config as UvicornConfig
from bot._uvicorn import Server as UvicornServer
from bot.config import ConfigError, Settings
from bot.media_endpoint import media_route
from bot.metrics import METRICS
from bot.slack.app import build_bot, seed_authorization
from bot.slack.context import Bot
from bot.slack.direct import DirectCommands
from bot.slack.media import sweep_forever as sweep_media_forever
from bot.slack.reach import named_inboxes, reachability
from bot.slack.recovery import sweep_forever
from bot.web import build_web_app
from bot.webhook_endpoint import sociocs_webhook_route
from bot.webhooks_subscribe import subscribe_all

log = logging.getLogger(__name__)


class _Server(UvicornServer):
    """uvicorn without its own signal capture: the bot decides when and how to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)


async def check_tokens(client: AsyncWebClient, settings: Settings) -> Any:
    """Refuse to start on a token Slack rejects, with one line naming it; network trouble only warns.

    Returns the bot token's auth.test answer (None when Slack could not be reached).
    """
    checks: list[tuple[str, Callable[[], Awaitable[Any]]]] = [("SLACK_BOT_TOKEN", client.auth_test)]
    if settings.mode == "socket" and settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
        checks.append(("SLACK_APP_TOKEN", lambda: client.apps_connections_open(app_token=app_token)))
    auth = None
    for name, call in checks:
        try:
            answer = await call()
            auth = auth or answer
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in _REFUSED:
                raise ConfigError(f"{name} was refused by Slack ({error})") from None
            log.warning("could not check %s with Slack: %s", name, error)
        except Exception as exc:  # Slack unreachable right now: start anyway, readiness will tell
            log.warning("could not reach Slack to check %s (%s)", name, type(exc).__name__)
    return auth


LEDGER_CHECK_EVERY_SECONDS = 2.0
LEDGER_CHECK_TIMEOUT_SECONDS = 5.0


async def _watch_ledger(bot: Bot, down: list[str]) -> None:
    """Keeps `down` saying why the ledger cannot be read (empty when it can): every send is recorded
    there first, so without it the bot cannot do its job and /readyz says so."""
    while True:
        try:
            await asyncio.wait_for(bot.ledger.readable(), LEDGER_CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            if not down:
                log.warning("the ledger is unreachable (%s): not ready until it answers", type(exc).__name__)
            down[:] = [type(exc).__name__]
        else:
            if down:
                log.info("the ledger answers again: ready")
            down.clear()
        await asyncio.sleep(LEDGER_CHECK_EVERY_SECONDS)


async def check_inboxes(bot: Bot) -> None:
    """Report, at start, an inbox channel the bot cannot post in (the Home tab's health shows it too)."""
    bot.inbox_reach = await reachability(bot.client, named_inboxes(bot.settings))
    for ok, line in bot.inbox_reach:
        if not ok:
            log.error("inbox channel unusable: %s", line)


# Container objects allocated and not yet freed before the collector looks for cycles (Python's default
# is 700). The bot makes almost no cyclic garbage: a 420-command bench round left 579 objects for it to
# collect, yet with 700 it collected 220 times, 134 ms of CPU (0.3 ms a send, most of it walking
# in-flight sends that were alive anyway). With 50,000: once, 12 ms; at most that many objects of
# garbage (a few MB) wait for it (#18).
GC_YOUNG_THRESHOLD = 50_000


def started() -> None:
    """Start-up is over: what it built (modules, the app, the clients) lives as long as the process.

    Frozen out of the garbage collector's view, so a full collection walks only what requests
    allocate: without it, each one walked some 120,000 start-up objects (about 100 ms on the bench
    machine, all of it a pause of the event loop, so of any acknowledgement waiting behind it).
    The collector then looks for cycles only every GC_YOUNG_THRESHOLD allocations.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


async def serve(settings: Settings) -> int:
    # The tokens are checked while the ledger opens (two waits overlapped, not added up); the ledger's
    # failure still comes first, and a refused token still stops the bot before it serves anything.
    checks: list[asyncio.Task[Any]] = []

    def check(client: AsyncWebClient) -> None:
        checks.append(asyncio.create_task(check_tokens(client, settings), name="token-check"))

    try:
        bot = await build_bot(settings, on_client=check)
    except BaseException:
        for task in checks:
            task.cancel()
        await asyncio.gather(*checks, return_exceptions=True)
        raise
    try:
        auth = await checks[0]
    except ConfigError:
        await bot.aclose()
        raise
    if auth is not None:
        seed_authorization(bot, auth)
        bot.background.spawn(check_inboxes(bot), name="inbox-reach")
    stopping = asyncio.Event()
    socket_handler = None
    bot.ledger.start_heartbeat()
    sweeper = asyncio.create_task(sweep_forever(bot), name="ledger-recovery")
    ledger_down: list[str] = []  # why the ledger cannot be used right now; empty while it can
    watcher = asyncio.create_task(_watch_ledger(bot, ledger_down), name="ledger-readiness")

    if settings.mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
        from slack_sdk.socket_mode.request import SocketModeRequest

        class TimedSocketModeHandler(AsyncSocketModeHandler):
            """Observes each envelope's acknowledgement time, as bot.web does for HTTP requests."""

            async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
                with METRICS.timing_slack_ack():
                    await super().handle(client, req)

        assert settings.slack_app_token is not None
        socket_handler = TimedSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())

    def ready() -> tuple[bool, str]:
        if stopping.is_set():
            return False, "shutting down"
        if socket_handler is not None and not socket_handler.client.is_connected():
            return False, "socket mode not connected"
        if ledger_down:
            return False, f"the ledger is unreachable ({ledger_down[0]})"
        return True, f"{settings.mode} mode"

    webhook = sociocs_webhook_route(bot)
    routes = [webhook] if webhook else []
    media_sweeper = None
    if bot.media is not None:
        routes.append(media_route(bot.media))  # PUBLIC_URL/media/{token}, in both modes
        media_sweeper = asyncio.create_task(sweep_media_forever(bot.media), name="media-sweep")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    web = build_web_app(
        bot.app if socket_handler is None else None,
        ready,
        extra_routes=routes,
        signing_secret=secret,
        direct=DirectCommands(bot),
        answering=bot.background.answering,
    )
    if settings.public_url and webhook is not None and bot.sociocs is not None:
        bot.background.spawn(subscribe_all(bot.settings, bot.sociocs), name="webhook-subscribe")
    server = _Server(
        UvicornConfig(
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

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)

    started()
    serving = asyncio.create_task(server.serve(), name="http")
    connecting = None
    if socket_handler is not None:
        connecting = asyncio.create_task(socket_handler.connect_async(), name="socket")  # type: ignore[no-untyped-call]
    log.info("listening on %s:%d (%s mode)", settings.host, settings.port, settings.mode)
    stop = asyncio.create_task(stopping.wait(), name="stop")
    try:
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.set()
        stop.cancel()
        if connecting is not None and not connecting.done():
            connecting.cancel()
        if socket_handler is not None:
            # No new events over the socket; sends already acknowledged go on below.
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        server.should_exit = True
        sweeper.cancel()
        watcher.cancel()
        if media_sweeper is not None:
            media_sweeper.cancel()
        await asyncio.gather(serving, sweeper, watcher, *[t for t in (media_sweeper,) if t], return_exceptions=True)
        finished = await bot.background.drain(settings.shutdown_grace_seconds)
        if not finished:
            log.warning("shutdown grace period over with %d send(s) still in flight", bot.background.in_flight)
        await bot.aclose()
    log.info("stopped")
    return 0
