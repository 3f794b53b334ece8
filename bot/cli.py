"""`sociocs-bot [console|check]`: serve Slack, try the bot in a terminal, or check the configuration."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import __version__

if TYPE_CHECKING:
    import asyncio

    from bot.config import Settings


def _without_httpx_cli() -> None:
    """httpx imports its command-line tool (rich, pygments, click: about 4 MB and 70 modules) whenever
    those happen to be installed, as in a development environment. The bot never runs it: mark it
    absent before httpx is first imported, so `import httpx` takes its own fallback."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sociocs-bot",
        description="Send SMS and WhatsApp messages through Sociocs from Slack. "
        "With no command, serves Slack in the mode chosen by SLACK_MODE.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve Slack (the default)")
    commands.add_parser(
        "console",
        help="type /sms commands in the terminal; runs the same app with a local Slack stand-in "
        "(a dry run when SOCIOCS_API_KEY is unset)",
    )
    commands.add_parser("check", help="validate the configuration and prove the Slack and Sociocs keys work")
    webhooks = commands.add_parser("webhooks", help="manage the Sociocs webhook subscriptions")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    subscribe = webhook_commands.add_parser(
        "subscribe", help="subscribe POST /sociocs/webhook for messages and status updates on every channel"
    )
    subscribe.add_argument("--url", help="the bot's public base URL (default: PUBLIC_URL)")
    return parser


def _fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a dependency on Linux and macOS): each turn of the
    loop costs about half as much, and an acknowledgement waits for turns of the loop (measured in
    bench/). None means asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    # Start-up allocates much and frees almost nothing: garbage collection then only costs time, some
    # 25 ms of CPU in the imports alone (asyncio, pydantic and the settings here, the rest in _run), so
    # they are imported here with it off. Serving keeps it off until serve() freezes what start-up built
    # and turns it back on (see bot.serve.started); the other commands run with it on, as before.
    gc.disable()
    try:
        _without_httpx_cli()
        args = _parser().parse_args(argv)
        command = args.command or "serve"
        from bot.config import ConfigError, load_settings

        try:
            settings = load_settings()
            if command == "serve":
                settings.check_serving()
            elif command == "console":
                settings.check_sending()
        except ConfigError as exc:
            print(f"sociocs-bot: configuration error: {exc}", file=sys.stderr)
            return 2
        if command != "serve":
            gc.enable()
        return _run(command, settings, args)
    finally:
        gc.enable()


def _run(command: str, settings: Settings, args: argparse.Namespace | None = None) -> int:
    import asyncio

    from bot.config import ConfigError
    from bot.logs import setup_logging

    if command == "webhooks":
        from bot.webhooks_subscribe import run_subscribe

        setup_logging(40, settings.secrets(), settings.log_format)
        return asyncio.run(run_subscribe(settings, getattr(args, "url", None)))
    if command == "check":
        from bot.check import run_check

        setup_logging(
            settings.logging_level if settings.log_level == "DEBUG" else 40, settings.secrets(), settings.log_format
        )
        return asyncio.run(run_check(settings))
    if command == "console":
        from bot.console import run_console

        setup_logging(max(settings.logging_level, 30), settings.secrets(), settings.log_format)
        return asyncio.run(run_console(settings, sys.stdin, sys.stdout))
    # Start-up allocates much and frees almost nothing: garbage collection then only costs time.
    # serve() freezes what start-up built and turns it back on (see bot.serve.started).
    gc.disable()
    try:
        from bot.serve import serve

        setup_logging(settings.logging_level, settings.secrets(), settings.log_format)
        with asyncio.Runner(loop_factory=_fast_loop()) as runner:
            return runner.run(serve(settings))
    except ConfigError as exc:
        print(f"sociocs-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        gc.enable()
