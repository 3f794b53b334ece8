"""`/sms`: parse, check, acknowledge, then send in the background (or open the compose modal)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.domain.draft import DraftError, RawDraft
from bot.slack.app import Bot, problems_text
from bot.slack.command import ComposeRequest, HelpRequest, SendRequest, UsageError, parse_command
from bot.slack.listeners.compose import open_compose
from bot.slack.text import decode, escape
from bot.slack.views import ComposeContext, Prefill


def raw_draft(request: SendRequest, names: dict[str, str] | None = None) -> RawDraft:
    return RawDraft(
        recipients=request.recipients,
        text=decode(request.message, names),
        provider=request.provider,
        name=request.name,
        image_urls=request.image_urls,
        file_url=request.file_url,
    )


def register(bot: Bot) -> None:
    settings = bot.settings

    @bot.app.command("/sms")
    async def sms_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = command.get("text") or ""
        try:
            parsed = parse_command(
                text, whatsapp_provider=settings.whatsapp_provider, default_region=settings.default_region
            )
        except UsageError as exc:
            await ack(response_type="ephemeral", text=f":warning: {escape(str(exc))}\n\n{bot.help()}")
            return
        if isinstance(parsed, HelpRequest):
            await ack(response_type="ephemeral", text=bot.help())
            return
        if isinstance(parsed, ComposeRequest):
            problem = settings.rules().provider_problem(parsed.provider)
            if parsed.provider is not None and problem is not None:
                await ack(response_type="ephemeral", text=f":warning: {escape(problem.message)}")
                return
            await ack()
            prefill = Prefill(provider=parsed.provider, recipients=parsed.recipients, name=parsed.name)
            bot.background.spawn(
                open_compose(
                    bot,
                    str(command.get("trigger_id")),
                    ComposeContext(origin="command"),
                    prefill,
                    destination=command.get("channel_id"),
                ),
                name="open-compose",
            )
            return
        try:
            bot.draft(raw_draft(parsed))
        except DraftError as exc:
            await ack(response_type="ephemeral", text=problems_text(exc))
            return
        await ack()
        bot.background.spawn(_send(bot, parsed, command, respond), name="sms-command")


async def _send(bot: Bot, request: SendRequest, command: dict[str, Any], respond: AsyncRespond) -> None:
    async def tell_privately(text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    names = await bot.names.names_for(request.message)
    try:
        draft = bot.draft(raw_draft(request, names))
    except DraftError as exc:  # a looked-up name pushed the text over a limit
        await tell_privately(problems_text(exc))
        return
    await bot.deliver(
        draft,
        channel_id=str(command.get("channel_id")),
        sender_id=command.get("user_id"),
        private=tell_privately,
        via="command",
    )
