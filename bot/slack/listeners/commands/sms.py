"""`/sms`: parse, check, record durably, acknowledge, then send in the background (or open the compose modal)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.domain.draft import DraftError, RawDraft
from bot.domain.providers import Provider
from bot.domain.templates import split_values
from bot.sending import Accepted, Repeated, Requester, SendStatus, with_draft
from bot.slack.command import (
    BlockRequest,
    ComposeRequest,
    HelpRequest,
    HistoryRequest,
    InboxRequest,
    ScheduledRequest,
    SendRequest,
    UsageError,
    parse_command,
)
from bot.slack.context import Bot, bot_of
from bot.slack.idempotency import ReplayCheck, replay_of
from bot.slack.listeners.commands.contacts import block_command, names_command
from bot.slack.listeners.commands.inbox import show_inbox
from bot.slack.listeners.common import open_compose
from bot.slack.listeners.scheduled import list_scheduled
from bot.slack.listeners.send_later import (
    accept_later,
    check_readable,
    refused_before_ack,
    when_before_ack,
    zone_before_ack,
)
from bot.slack.messages import history_text, refusal_text
from bot.slack.report import ephemeral
from bot.slack.text import decode, shown
from bot.slack.views import ComposeContext, Prefill
from bot.slack.zones import ZoneUnknown


def raw_draft(request: SendRequest, names: dict[str, str] | None = None) -> RawDraft:
    text = decode(request.message, names)
    template = request.template is not None  # the message is then the template's values
    return RawDraft(
        recipients=request.recipients,
        text="" if template else text,
        provider=request.provider,
        name=request.name,
        image_urls=request.image_urls,
        file_url=request.file_url,
        template=request.template,
        template_values=split_values(text) if template else (),
        video_url=request.video_url,
        save_contact=request.save,
    )


def requester(command: dict[str, Any]) -> Requester:
    return Requester(command.get("team_id"), command.get("user_id"), command.get("channel_id"), "command")


async def sms_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext) -> None:
    bot = bot_of(context)
    settings = bot.settings
    text = command.get("text") or ""
    replay = replay_of(context)
    try:
        parsed = parse_command(
            text, whatsapp_provider=settings.whatsapp_provider, default_region=settings.default_region
        )
    except UsageError as exc:
        if await _repeated(replay, ack):
            return
        await ack(response_type="ephemeral", text=f":warning: {shown(str(exc))}\n\n{bot.help()}")
        return
    now_send = isinstance(parsed, SendRequest) and parsed.send_at is None and not parsed.contact_names
    if not now_send and await _repeated(replay, ack):  # a send checks within its reservation instead
        return
    if isinstance(parsed, HelpRequest):
        await ack(response_type="ephemeral", text=bot.help(parsed.topic))
        return
    if isinstance(parsed, HistoryRequest):
        await ack(response_type="ephemeral", text=await _history(bot, str(command.get("user_id"))))
        return
    if isinstance(parsed, ComposeRequest):
        await _compose(bot, ack, command, parsed)
        return
    if isinstance(parsed, ScheduledRequest):
        await ack()
        bot.background.spawn(list_scheduled(bot, str(command.get("user_id")), ephemeral(respond)), name="scheduled")
        return
    if isinstance(parsed, BlockRequest):
        await block_command(bot, ack, command, parsed)
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
    if parsed.send_at is not None and not parsed.contact_names:
        await _later(bot, ack, parsed, parsed.send_at, respond, who)
        return
    if parsed.contact_names:  # looked up after the acknowledgement (held in the ledger before it)
        await names_command(
            bot,
            ack,
            parsed,
            lambda names: raw_draft(parsed, names),
            who,
            respond,
            lambda accepted: _send(bot, parsed, accepted, respond),
        )
        return
    try:
        draft = bot.draft(raw_draft(parsed))
        await bot.service.check(draft, who)
    except DraftError as exc:
        if not await _repeated(replay, ack):
            await ack(response_type="ephemeral", text=refusal_text(exc))
        return
    try:
        # Written down before Slack hears "ok": an acknowledged command survives any crash. The
        # write shares a transaction with concurrent ones (group commit), and with this request's
        # replay check, so the acknowledgement waits for one round trip to the ledger.
        accepted = await bot.service.record(draft, who, request_key=replay.key)
    except Repeated:
        replay.ignored()
        await ack()
        return
    except DraftError as exc:  # over the rate limit (the request is recorded as seen), or no ledger
        await ack(response_type="ephemeral", text=refusal_text(exc))
        return
    await ack()
    bot.background.spawn(_send(bot, parsed, accepted, respond), name="sms-command")


async def _repeated(replay: ReplayCheck, ack: AsyncAck) -> bool:
    """True (and acknowledged, nothing else) when this command was seen before: a replay."""
    if await replay.first():
        return False
    replay.ignored()
    await ack()
    return True


async def _later(
    bot: Bot, ack: AsyncAck, parsed: SendRequest, when: str, respond: AsyncRespond, who: Requester
) -> None:
    """`--at WHEN`: read in the sender's zone (looked up within a budget when not cached) and recorded
    before the acknowledgement; refused when Slack cannot tell the zone in time."""
    try:
        check_readable(when)
        zone = await zone_before_ack(bot, who.user_id)
        accepted = await accept_later(bot, raw_draft(parsed), when, zone, who)
    except (ZoneUnknown, DraftError) as exc:
        await ack(response_type="ephemeral", text=refused_before_ack(exc))
        return
    await ack()
    bot.background.spawn(_send(bot, parsed, accepted, respond), name="sms-command")


async def _compose(bot: Bot, ack: AsyncAck, command: dict[str, Any], parsed: ComposeRequest) -> None:
    """The form, filled with what was typed (`--save` ticks Save as contact); `--at WHEN` is read (and
    refused) before the acknowledgement exactly as for a send, and fills in Send at, where the person
    still sees and may change it."""
    send_at: int | None = None
    if parsed.send_at is not None:
        try:
            send_at = int((await when_before_ack(bot, parsed.send_at, command.get("user_id"))).timestamp())
        except (ZoneUnknown, DraftError) as exc:
            await ack(response_type="ephemeral", text=refused_before_ack(exc))
            return
    problems = await bot.service.who_may_send(command.get("user_id"), command.get("channel_id"))
    provider_problem = bot.service.rules.provider_problem(parsed.provider)
    if parsed.provider is not None and provider_problem is not None:
        problems.append(provider_problem)
    if problems:
        await ack(response_type="ephemeral", text=refusal_text(DraftError(problems)))
        return
    await ack()
    prefill = Prefill(
        provider=parsed.provider,
        recipients=parsed.recipients,
        name=parsed.name,
        send_at=send_at,
        save_contact=parsed.save,
    )
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
            r.message_id if r.status in (SendStatus.SENT, SendStatus.SCHEDULED) else r.error,
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
            draft = bot.draft(replace(raw_draft(request, names), send_at=draft.schedule))
        except DraftError as exc:  # a looked-up name pushed the text over a limit
            await bot.service.abandon(accepted, str(exc))
            await tell_privately(refusal_text(exc))
            return
    await bot.deliver(
        with_draft(accepted, draft), channel_id=str(accepted.requester.channel_id), private=tell_privately
    )
