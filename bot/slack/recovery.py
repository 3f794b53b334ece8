"""Sends the ledger recovered from a process that stopped mid-way, reported in their threads.

A recovered send's outcome reply is brought up to date from the ledger (posted if it never was, else
edited), and so is every reply a gone process left not fully shown: what was not yet shown is shown,
and nothing twice.
"""

from __future__ import annotations

import asyncio
import logging

from bot.domain.outcome import Outcome
from bot.domain.phone import PhoneNumber
from bot.ledger import SendRecord, SendStatus
from bot.slack.contact_texts import lost_names
from bot.slack.context import Bot
from bot.slack.conversations import refresh_summary
from bot.slack.messages import outcome_text

log = logging.getLogger(__name__)

# Ledger rows that can no longer matter (contact choices, held mentions, handled message ids) are
# deleted at start and this often.
FORGET_EVERY_SECONDS = 600.0


def recovered_outcome(record: SendRecord) -> Outcome:
    if record.status is SendStatus.UNKNOWN:
        return Outcome.unknown(record.error or "the bot restarted while sending")
    return Outcome.failed(record.error or "the bot restarted before sending it", hint="Press Retry to send it now.")


async def report_recovered(bot: Bot, records: list[SendRecord]) -> None:
    shown: set[tuple[str, str]] = set()
    for record in records:
        if record.channel_id and record.summary_ts:
            key = (record.channel_id, record.summary_ts)
            if key in shown:
                continue  # one update of the reply covers all its recovered sends
            log.warning("recovered send %s as %s", record.id, record.status.value)
            if await bot.replies.show(*key):
                shown.add(key)
                continue
        outcome = recovered_outcome(record)
        line = outcome_text(PhoneNumber(record.recipient, None), None, outcome)
        log.warning("recovered send %s as %s", record.id, record.status.value)
        await bot.post_outcome(record, line, outcome, "the recovery")


async def tell_lost_names(bot: Bot) -> None:
    """Names a gone process acknowledged (`/sms "Jane Doe" …`) and never settled: their author is told,
    privately, that nothing was sent to them (one message per command's channel and author)."""
    lost = await bot.choices.lost_names()
    by_author: dict[tuple[str, str], list[str]] = {}
    for name in lost:
        by_author.setdefault((name.user_id, name.channel_id), []).append(name.typed)
    for (user_id, channel_id), typed in by_author.items():
        log.warning("telling %s that %d looked-up names were not sent (the bot restarted)", user_id, len(typed))
        await bot.direct_message(user_id)(lost_names(typed, channel_id))


async def forget_stale(bot: Bot) -> bool:
    """Delete the ledger rows that can no longer matter: contact choices no press can use
    (`ContactChoices.forget_stale`), mentions no press can use (`ConversationService.forget_stale_mentions`)
    and ids of messages past any redelivery (`ConversationService.forget_old_incoming`). A delete that
    fails is logged and the others still run; False then (all are tried again at the next sweep)."""
    done = True
    for what, forget in (
        ("stale contact choices", bot.choices.forget_stale),
        ("stale held mentions", bot.conversations.forget_stale_mentions),
        ("old incoming message ids", bot.conversations.forget_old_incoming),
    ):
        try:
            deleted = await forget()
        except Exception as exc:
            log.warning("could not delete %s (%s)", what, type(exc).__name__)
            done = False
            continue
        if deleted:
            log.info("deleted %d %s", deleted, what)
    return done


async def sweep_forever(bot: Bot) -> None:
    """At start and every few seconds: recover sends whose process is gone, and report them; show the
    outcome replies gone processes left unfinished; count the live processes sharing Slack's limits.
    At start and every FORGET_EVERY_SECONDS: delete the ledger rows that can no longer matter (any
    replica may; `forget_stale`)."""
    loop = asyncio.get_running_loop()
    forget_at = loop.time()
    while True:
        try:
            await report_recovered(bot, await bot.service.recover())
            await tell_lost_names(bot)
            for state in await bot.replies.book.unshown_replies():
                log.warning("showing the outcomes a stopped process left unshown in %s", state.channel_id)
                await bot.replies.show(state.channel_id, state.summary_ts)
            for channel, summary_ts in await bot.replies.book.unshown_statuses():
                log.warning("showing the delivery statuses a stopped process left unshown in %s", channel)
                await refresh_summary(bot, channel, summary_ts)
            bot.live_instances = await bot.service.live_processes()
        except Exception:
            log.exception("ledger recovery failed; trying again shortly")
        if loop.time() >= forget_at and await forget_stale(bot):  # a failed delete: again at the next sweep
            forget_at = loop.time() + FORGET_EVERY_SECONDS
        await asyncio.sleep(bot.service.recovery_period)
