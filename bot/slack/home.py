"""The Home tab: published when someone opens it and, debounced, when something of theirs changes.

It shows the inbox (as `/sms inbox`), the person's recent sends with their status, their scheduled
messages still waiting (each with Cancel) and, for admins, the configuration's health.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.slack.context import Bot
from bot.slack.conversation_view import Link, home_view
from bot.slack.links import message_link
from bot.slack.outbox import slack_call
from bot.slack.scheduled_text import home_blocks
from bot.slack.text import shown

log = logging.getLogger(__name__)


async def link_maker(bot: Bot) -> Link:
    base = await bot.links.base() if bot.links is not None else "https://slack.com/"

    def link(channel: str, ts: str, thread_ts: str | None) -> str:
        return message_link(base, channel, ts, thread_ts)

    return link


async def scheduled_blocks(bot: Bot, user_id: str) -> list[dict[str, Any]]:
    """The person's own scheduled messages still waiting, soonest first, each with its Cancel button
    (an admin sees everyone's with `/sms scheduled`, not here). Checked against Sociocs as that list
    is, but only when the ledger holds some: most people's Home tab costs Sociocs nothing."""
    try:
        pending = await bot.scheduling.pending(user_id, own=True)
    except Exception:  # the rest of the Home tab is still worth publishing
        log.exception("could not list the scheduled messages of %s for the Home tab", user_id)
        return [_text(":warning: Your scheduled messages could not be listed just now: try `/sms scheduled`.")]
    return home_blocks(pending.sends, checked=pending.checked)


def health(bot: Bot) -> list[tuple[bool, str]]:
    """What an admin sees: providers, the webhook subscription, the inbox channels (checked at start)."""
    s = bot.settings
    providers = ", ".join(p.label for p in s.channel_keys) or "none"
    lines = [(bool(s.channel_keys), f"Providers: {providers}" + (" (dry run)" if s.dry_run else ""))]
    if s.sociocs_webhook_secret is None:
        lines.append((False, "Webhook: off (set SOCIOCS_WEBHOOK_SECRET): no delivery statuses or customer replies"))
    elif s.public_url:
        lines.append((True, f"Webhook: subscribed at start to {s.public_url}/sociocs/webhook"))
    else:
        lines.append((True, "Webhook: on; subscribe with `sociocs-bot webhooks subscribe --url …` (PUBLIC_URL unset)"))
    if not s.inbox_channels:
        lines.append((False, "Inbox channels: none (set INBOX_CHANNEL_ID): new conversations are only recorded"))
    lines += bot.inbox_reach
    return lines


async def publish_home(bot: Bot, user_id: str) -> None:
    if bot.desk is None:
        return
    problems = await bot.service.user_problems(user_id)
    if problems:  # the guardrails: someone who may not send sees no customers here either
        view = {"type": "home", "blocks": [_text(f":no_entry: {shown(problems[0].message)}")]}
        await slack_call(bot.client.views_publish(user_id=user_id, view=view), f"publish the Home tab of {user_id}")
        return
    inbox = await bot.desk.inbox(user_id)
    sends = await bot.service.history(user_id, limit=10)
    view = home_view(
        inbox,
        sends,
        await link_maker(bot),
        health=health(bot) if bot.desk.is_admin(user_id) else None,
        scheduled=await scheduled_blocks(bot, user_id),
    )
    await slack_call(bot.client.views_publish(user_id=user_id, view=view), f"publish the Home tab of {user_id}")


def _text(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900], "verbatim": True}}
