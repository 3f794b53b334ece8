"""The one send path: every entry point hands a checked Draft and a Reporter to `SendService.send`.

It maps the draft to one Sociocs payload per recipient, sends them concurrently (the Sociocs client
bounds how many are in flight), and tells the reporter about each outcome as it arrives. It knows
nothing of Slack; the reporter does the talking.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from bot.domain.draft import Draft, Rules
from bot.domain.outcome import Outcome
from bot.domain.payload import MessagePayload, payload_for
from bot.domain.phone import PhoneNumber

log = logging.getLogger("bot.send")


class Sender(Protocol):
    async def send(self, payload: MessagePayload) -> Outcome: ...


class Reporter(Protocol):
    """Where a send is told: before anything is sent, after each recipient, and at the end."""

    async def started(self, draft: Draft) -> None: ...

    async def finished(self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome) -> None: ...

    async def done(self) -> None: ...


class SendService:
    def __init__(self, sender: Sender | None, rules: Rules, *, log_numbers: bool = False) -> None:
        """`sender` None means dry run: payloads are built and reported, never sent."""
        self._sender = sender
        self._rules = rules
        self._log_numbers = log_numbers

    @property
    def dry_run(self) -> bool:
        return self._sender is None

    def channel_key(self, draft: Draft) -> str:
        key = self._rules.channel_key(draft.provider)
        if key is None:
            # Only reachable in a dry run: make_draft refuses unconfigured providers otherwise.
            return f"(unset: {draft.provider.channel_key_setting})"
        return key

    async def send(self, draft: Draft, reporter: Reporter, *, context: str = "") -> list[Outcome]:
        """Send `draft` to each recipient and report every outcome; never raises for a send failure."""
        await _safely(reporter.started(draft), "reporting the start of a send")
        key = self.channel_key(draft)
        outcomes = await asyncio.gather(*(self._one(draft, r, key, reporter, context) for r in draft.recipients))
        await _safely(reporter.done(), "reporting the end of a send")
        return list(outcomes)

    async def _one(self, draft: Draft, recipient: PhoneNumber, key: str, reporter: Reporter, context: str) -> Outcome:
        payload = payload_for(draft, recipient, key)
        started = time.perf_counter()
        outcome = Outcome.dry_run() if self._sender is None else await self._sender.send(payload)
        elapsed_ms = (time.perf_counter() - started) * 1000
        shown = recipient.e164 if self._log_numbers else recipient.masked()
        log.info(
            "send %s provider=%s to=%s outcome=%s message_id=%s status=%s latency_ms=%.0f%s",
            "ok" if outcome.ok or self._sender is None else "not-ok",
            draft.provider.value,
            shown,
            outcome.kind.value,
            outcome.message_id or "-",
            outcome.http_status or "-",
            elapsed_ms,
            f" {context}" if context else "",
        )
        await _safely(reporter.finished(recipient, payload, outcome), f"reporting the outcome for {recipient.masked()}")
        return outcome


async def _safely(step: object, what: str) -> None:
    """Run a reporting step; a reporting failure is logged, never allowed to stop the sends."""
    try:
        await step  # type: ignore[misc]
    except Exception:
        log.exception("failed while %s", what)
