"""Builds the Bolt app and registers its listeners by kind. Listeners acknowledge first, then work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.domain.draft import DraftError, RawDraft, make_draft
from bot.sending import SendService
from bot.slack.command import ComposeRequest, HelpRequest, SendRequest, UsageError, parse_command
from bot.slack.messages import help_text
from bot.slack.names import NameResolver
from bot.slack.report import SlackThreadReporter
from bot.slack.text import decode, escape
from bot.sociocs import SociocsClient
from bot.tasks import Background

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything a running bot holds; built inside the event loop, closed with `aclose`."""

    settings: Settings
    app: AsyncApp
    client: AsyncWebClient
    sociocs: SociocsClient | None
    service: SendService
    background: Background
    names: NameResolver

    async def aclose(self) -> None:
        if self.sociocs is not None:
            await self.sociocs.aclose()
        session = self.client.session
        if session is not None and not session.closed:
            await session.close()

    def help(self) -> str:
        s = self.settings
        return help_text(s.channel_keys, s.default_provider, s.whatsapp_provider, s.max_recipients)

    def raw_draft(self, request: SendRequest, names: dict[str, str] | None = None) -> RawDraft:
        return RawDraft(
            recipients=request.recipients,
            text=decode(request.message, names),
            provider=request.provider,
            name=request.name,
            image_urls=request.image_urls,
            file_url=request.file_url,
        )


def problems_text(error: DraftError) -> str:
    lines = "\n".join(f"• {escape(p.message)}" for p in error.problems)
    return f":warning: Nothing was sent. Please fix:\n{lines}"


async def build_bot(
    settings: Settings, *, console: bool = False, on_sociocs_request: Callable[[Any], None] | None = None
) -> Bot:
    """Create the Slack client, the Sociocs client and the Bolt app with its listeners.

    `console` turns off request signing checks: the console feeds commands in-process.
    `on_sociocs_request` sees each Sociocs request body (never its headers), for the console.
    """
    import aiohttp

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "xoxb-console"
    client = AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(),
        retry_handlers=[AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    sociocs: SociocsClient | None = None
    if not settings.dry_run and settings.sociocs_api_key is not None:
        sociocs = SociocsClient(
            api_key=settings.sociocs_api_key.get_secret_value(),
            base_url=settings.sociocs_base_url,
            timeout=settings.sociocs_timeout_seconds,
            max_in_flight=settings.sociocs_max_concurrency,
            on_request=on_sociocs_request,
        )
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "console",
        request_verification_enabled=not console,
        # Listeners only acknowledge and hand work to `Background`, so answering after they return is fast
        # and avoids Bolt's 10 ms ack polling.
        process_before_response=True,
        logger=logging.getLogger("bot.bolt"),
    )
    bot = Bot(
        settings=settings,
        app=app,
        client=client,
        sociocs=sociocs,
        service=SendService(sociocs, settings.rules()),
        background=Background(),
        names=NameResolver(client),
    )
    register(bot)
    return bot


def register(bot: Bot) -> None:
    """Listeners by kind; each is a plain typed function closed over the bot."""
    settings = bot.settings

    @bot.app.command("/sms")
    async def sms_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        text = command.get("text") or ""
        try:
            parsed = parse_command(
                text, whatsapp_provider=settings.whatsapp_provider, default_region=settings.default_region
            )
        except UsageError as exc:
            await ack(response_type="ephemeral", text=f":warning: {escape(str(exc))}\n\n{bot.help()}")
            return
        if isinstance(parsed, HelpRequest | ComposeRequest):
            await ack(response_type="ephemeral", text=bot.help())
            return
        try:
            make_draft(bot.raw_draft(parsed), settings.rules())
        except DraftError as exc:
            await ack(response_type="ephemeral", text=problems_text(exc))
            return
        await ack()
        bot.background.spawn(_send_command(bot, parsed, command, respond, context.bot_user_id), name="sms-command")


async def _send_command(
    bot: Bot, request: SendRequest, command: dict[str, Any], respond: AsyncRespond, bot_user_id: str | None
) -> None:
    async def tell_privately(text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    names = await bot.names.names_for(request.message)
    try:
        draft = make_draft(bot.raw_draft(request, names), bot.settings.rules())
    except DraftError as exc:  # a looked-up name pushed the text over a limit
        await tell_privately(problems_text(exc))
        return
    reporter = SlackThreadReporter(
        bot.client,
        channel_id=str(command.get("channel_id")),
        sender_id=command.get("user_id"),
        private=tell_privately,
        dry_run=bot.service.dry_run,
        bot_user_id=bot_user_id,
    )
    await bot.service.send(draft, reporter, context=f"via=command user={command.get('user_id')}")
