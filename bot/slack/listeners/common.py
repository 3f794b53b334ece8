"""What several kinds of listener share: opening the compose modal (or a refusal in its place), and a
mention's text checked and recorded for one customer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.conversations import ThreadCustomer
from bot.domain.draft import Draft, DraftError, Problem, RawDraft
from bot.domain.phone import InvalidNumber, parse_number
from bot.domain.providers import Provider
from bot.domain.window import state as window_state
from bot.sending import Accepted, Requester
from bot.slack.context import Bot
from bot.slack.messages import refusal_text
from bot.slack.outbox import slack_call
from bot.slack.report import PrivateSink
from bot.slack.views import ComposeContext, Prefill, build_compose_view, refusal_view

log = logging.getLogger(__name__)


def compose_view(bot: Bot, context: ComposeContext, prefill: Prefill | None, destination: str | None) -> dict[str, Any]:
    s = bot.settings
    providers = list(s.channel_keys) or ([s.default_provider] if s.default_provider else [])
    chosen = (prefill.provider if prefill else None) or s.default_provider
    templates = bot.service.rules.templates.for_provider(chosen) if chosen else []
    return build_compose_view(
        providers=providers,
        default_provider=s.default_provider,
        context=context,
        prefill=prefill,
        destination=destination,
        max_recipients=s.max_recipients,
        templates=templates,
    )


async def with_window(bot: Bot, prefill: Prefill | None) -> Prefill | None:
    """The prefill with WhatsApp's 24-hour window for its one recipient, when webhooks let us know it."""
    s = bot.settings
    provider = (prefill.provider if prefill else None) or s.default_provider
    recipients = [r for r in (prefill.recipients if prefill else ()) if r.strip()]
    if prefill is None or provider is None or provider.is_sms or not bot.service.window_known or len(recipients) != 1:
        return prefill
    try:
        number = parse_number(recipients[0], s.default_region)
    except InvalidNumber:
        return prefill
    last = await bot.service.last_written(provider, number.e164)
    return prefill.model_copy(update={"window": window_state(last, datetime.now(UTC).replace(tzinfo=None))})


async def open_compose(
    bot: Bot, trigger_id: str, context: ComposeContext, prefill: Prefill | None = None, destination: str | None = None
) -> None:
    """views.open right after the acknowledgement, inside Slack's 3-second trigger window."""
    view = compose_view(bot, context, await with_window(bot, prefill), destination)
    await slack_call(bot.client.views_open(trigger_id=trigger_id, view=view), "open the compose form")


async def refuse(bot: Bot, trigger_id: str, problems: list[Problem]) -> None:
    """A modal saying why the compose form does not open."""
    view = refusal_view([p.message for p in problems])
    await slack_call(bot.client.views_open(trigger_id=trigger_id, view=view), "show the refusal")


def draft_for(bot: Bot, customer: ThreadCustomer, text: str) -> Draft:
    """A mention's text as a draft to one of the thread's customers."""
    return bot.draft(RawDraft(recipients=[customer.number], text=text, provider=Provider(customer.provider)))


async def accept_for(
    bot: Bot, customer: ThreadCustomer, text: str, requester: Requester, tell: PrivateSink
) -> Accepted | None:
    """The mention's text for one customer through every check, recorded; None (and told) if refused."""
    try:
        return await bot.service.accept(draft_for(bot, customer, text), requester, channel_field="text")
    except DraftError as exc:
        await tell(refusal_text(exc))
        return None
