"""`/sms`: parse, check, record durably, acknowledge, then send in the background (or open the compose modal)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.domain.draft import DraftError, RawDraft
from bot.domain.providers import Provider
from bot.ledger import SendStatus
from bot.sending import Accepted, Requester, with_draft
from bot.slack.command import (
    ComposeRequest,
    HelpRequest,
    HistoryRequest,
    InboxRequest,
    SendRequest,
    UsageError,
    parse_command,
)
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.commands.inbox import show_inbox
from bot.slack.listeners.common import open_compose
from bot.slack.messages import history_text, refusal_text
from bot.slack.report import ephemeral
from bot.slack.text import decode, shown
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


def requester(command: dict[str, Any]) -> Requester:
    return Requester(command.get("team_id"), command.get("user_id"), command.get("channel_id"), "command")


async def sms_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext) -> None:
    bot = bot_of(context)
    settings = bot.settings
    text = command.get("text") or ""
    try:
        parsed = parse_command(
            text, whatsapp_provider=settings.whatsapp_provider, default_region=settings.default_region
        )
    except UsageError as exc:
        await ack(response_type="ephemeral", text=f":warning: {shown(str(exc))}\n\n{bot.help()}")
        return
    if isinstance(parsed, HelpRequest):
        await ack(response_type="ephemeral", text=bot.help())
        return
    if isinstance(parsed, HistoryRequest):
        await ack(response_type="ephemeral", text=await _history(bot, str(command.get("user_id"))))
        return
    if isinstance(parsed, ComposeRequest):
        await _compose(bot, ack, command, parsed)
        return
    if isinstance(parsed, InboxRequest):
        problems = await bot.service.user_problems(command.get("user_id"))
        if problems:  # the inbox shows customers' numbers and words: only to those who may send
            await ack(response_type="ephemeral", text=refusal_text(DraftError(problems)))
            return
        await ack()  # the inbox asks Sociocs too: answered privately once it is known
        bot.background.spawn(show_inbox(bot, str(command.get("user_id")), ephemeral(respond)), name="inbox")
        return
    who = requester(command)
    try:
        draft = bot.draft(raw_draft(parsed))
        # Written down before Slack hears "ok": an acknowledged command survives any crash. The
        # write shares a transaction with concurrent ones (group commit), so this stays fast.
        accepted = await bot.service.accept(draft, who)
    except DraftError as exc:
        await ack(response_type="ephemeral", text=refusal_text(exc))
        return
    await ack()
    bot.background.spawn(_send(bot, parsed, accepted, respond), name="sms-command")


async def _compose(bot: Bot, ack: AsyncAck, command: dict[str, Any], parsed: ComposeRequest) -> None:
    problems = await bot.service.who_may_send(command.get("user_id"), command.get("channel_id"))
    provider_problem = bot.service.rules.provider_problem(parsed.provider)
    if parsed.provider is not None and provider_problem is not None:
        problems.append(provider_problem)
    if problems:
        await ack(response_type="ephemeral", text=refusal_text(DraftError(problems)))
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


async def _history(bot: Bot, user_id: str) -> str:
    records = await bot.service.history(user_id, limit=10)
    rows = [
        (
            r.created_at.replace(tzinfo=UTC).timestamp(),  # the ledger keeps naive UTC
            r.recipient,
            Provider(r.provider).label,
            r.status.value,
            r.message_id if r.status is SendStatus.SENT else r.error,
        )
        for r in records
    ]
    return history_text(rows)


async def _send(bot: Bot, request: SendRequest, accepted: Accepted, respond: AsyncRespond) -> None:
    tell_privately = ephemeral(respond)
    draft = accepted.draft
    names = await bot.names.names_for(request.message)
    if names:  # mentions without a label: the text changes once their names are known
        try:
            draft = bot.draft(raw_draft(request, names))
        except DraftError as exc:  # a looked-up name pushed the text over a limit
            await bot.service.abandon(accepted, str(exc))
            await tell_privately(refusal_text(exc))
            return
    await bot.deliver(
        with_draft(accepted, draft), channel_id=str(accepted.requester.channel_id), private=tell_privately
    )
