"""What several kinds of listener share: opening the compose modal (or a refusal in its place), and a
mention's text checked and recorded for one customer."""

from __future__ import annotations

import logging
from typing import Any

from bot.domain.draft import Draft, DraftError, Problem, RawDraft
from bot.domain.providers import Provider
from bot.ledger import ThreadCustomer
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
    return build_compose_view(
        providers=providers,
        default_provider=s.default_provider,
        context=context,
        prefill=prefill,
        destination=destination,
        max_recipients=s.max_recipients,
    )


async def open_compose(
    bot: Bot, trigger_id: str, context: ComposeContext, prefill: Prefill | None = None, destination: str | None = None
) -> None:
    """views.open right after the acknowledgement, inside Slack's 3-second trigger window."""
    view = compose_view(bot, context, prefill, destination)
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
