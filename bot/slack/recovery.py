"""Sends the ledger recovered from a process that stopped mid-way, reported in their threads."""

from __future__ import annotations

import asyncio
import logging

from bot.domain.outcome import Outcome
from bot.domain.phone import PhoneNumber
from bot.ledger import SendRecord, SendStatus
from bot.slack.app import Bot
from bot.slack.messages import outcome_text

log = logging.getLogger(__name__)


def recovered_outcome(record: SendRecord) -> Outcome:
    if record.status is SendStatus.UNKNOWN:
        return Outcome.unknown(record.error or "the bot restarted while sending")
    return Outcome.failed(record.error or "the bot restarted before sending it", hint="Press Retry to send it now.")


async def report_recovered(bot: Bot, records: list[SendRecord]) -> None:
    for record in records:
        outcome = recovered_outcome(record)
        line = outcome_text(PhoneNumber(record.recipient, None), None, outcome)
        log.warning("recovered send %s as %s", record.id, record.status.value)
        await bot.post_outcome(record, line, outcome, "the recovery")


async def sweep_forever(bot: Bot) -> None:
    """At start and every few seconds: recover sends whose process is gone, and report them."""
    while True:
        try:
            await report_recovered(bot, await bot.ledger.recover())
        except Exception:
            log.exception("ledger recovery failed; trying again shortly")
        await asyncio.sleep(bot.ledger.dead_after / 2)
