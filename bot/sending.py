"""The one send path, shared by the command, the modal, the shortcuts and the Retry button.

`accept` applies the guardrails and writes the messages to the ledger as queued (before Slack is
answered, so nothing accepted is ever lost); `send` calls Sociocs for each recipient, records each
outcome and tells the reporter. It knows nothing of Slack; the reporter does the talking.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from bot import metrics
from bot.domain.draft import Draft, DraftError, Field, Problem, Rules
from bot.domain.outcome import UNDELIVERED, Outcome, OutcomeKind
from bot.domain.payload import MessagePayload, payload_for
from bot.domain.phone import InvalidNumber, PhoneNumber, parse_number
from bot.domain.providers import Provider
from bot.domain.schedule import MIN_AHEAD, zone_named
from bot.domain.templates import TemplateUse
from bot.domain.window import closed_reason, closes_before_schedule, is_open
from bot.guardrails import Guardrails
from bot.ledger import Ledger, NewSend, RateLimited, Report, SeenBefore, SendRecord
from bot.ledger import SendStatus as SendStatus  # for the Slack listeners, which never import the ledger

log = logging.getLogger("bot.send")

AUTO_ATTEMPTS = 3  # first try plus two automatic retries, only when provably not sent
MAX_BACKOFF_SECONDS = 30.0
FINISH_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)  # about 16 s of trying to write an outcome down
NOT_RECORDED = "the bot could not record the message as being sent, so it did not send it"
TAKEN_OVER = "another bot process already reported this message as not sent, so it was not sent here"
_STATUS = {
    OutcomeKind.SENT: SendStatus.SENT,
    OutcomeKind.FAILED: SendStatus.FAILED,
    OutcomeKind.UNKNOWN: SendStatus.UNKNOWN,
    OutcomeKind.DRY_RUN: SendStatus.DRY_RUN,
}


class Sender(Protocol):
    async def send(self, payload: MessagePayload) -> Outcome: ...


class Reporter(Protocol):
    """Where a send is told: before anything is sent, after each recipient, and at the end."""

    async def started(self, draft: Draft) -> None: ...

    async def finished(
        self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome, send_id: str | None
    ) -> None: ...

    async def done(self) -> None: ...

    def location(self) -> Report | None:
        """Where the send is reported, once known (None when it could not be posted there)."""
        ...


@dataclass(frozen=True, slots=True)
class Requester:
    team_id: str | None
    user_id: str | None
    channel_id: str | None
    via: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """A draft that passed every check and is recorded in the ledger, one send id per recipient."""

    draft: Draft
    requester: Requester
    send_ids: tuple[str, ...]


class UnknownSend(Exception):
    """No send with that id is recorded."""


class Repeated(Exception):
    """The request asking for the send was seen before (a replay): nothing was recorded or sent."""


class NothingToRetry(Exception):
    """The send needs no retry (any more): someone already retried it, or it was sent."""


def rate_problem(limited: RateLimited) -> Problem:
    return Problem(
        "to",
        f"You have reached the limit of {limited.limit} messages a minute: try again in {limited.wait_seconds} s.",
    )


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds before automatic attempt `attempt + 1`: Retry-After when given, else exponential with jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_BACKOFF_SECONDS)
    return min(MAX_BACKOFF_SECONDS, 2.0**attempt) * random.uniform(0.5, 1.0)


class SendService:
    def __init__(
        self,
        sender: Sender | None,
        rules: Rules,
        ledger: Ledger,
        guardrails: Guardrails,
        *,
        log_numbers: bool = False,
        backoff_scale: float = 1.0,
        window_known: bool = False,
    ) -> None:
        """`sender` None means dry run: payloads are built, recorded and reported, never sent."""
        self._sender = sender
        self.rules = rules
        self.ledger = ledger
        self.guardrails = guardrails
        self._log_numbers = log_numbers
        self._backoff_scale = backoff_scale
        # Webhooks on: the ledger knows when customers last wrote, so WhatsApp's 24-hour rule is checked.
        self.window_known = window_known
        # Called with each Sociocs message id once recorded: status updates that arrived early wait for it.
        self.after_sent: Callable[[str], Awaitable[None]] | None = None
        # The Sociocs team member a Slack user sends as (`user_id`), when it can be known (#14).
        self.sender_of: Callable[[str | None], Awaitable[str | None]] | None = None

    @property
    def dry_run(self) -> bool:
        return self._sender is None

    def channel_key(self, provider: Provider) -> str:
        key = self.rules.channel_key(provider)
        if key is None:
            # Only reachable in a dry run: make_draft refuses unconfigured providers otherwise.
            return f"(unset: {provider.channel_key_setting})"
        return key

    # Checks ---------------------------------------------------------------------------------------------

    async def who_may_send(
        self, user_id: str | None, channel_id: str | None, *, field: Field = "destination"
    ) -> list[Problem]:
        """The guardrails that need no draft: who is asking and in which conversation."""
        problems = [await self.guardrails.user_problem(user_id), self.guardrails.channel_problem(channel_id, field)]
        return [p for p in problems if p is not None]

    async def user_problems(self, user_id: str | None) -> list[Problem]:
        """The guardrail on who is asking, for entry points with no conversation yet (the global shortcut)."""
        problem = await self.guardrails.user_problem(user_id)
        return [problem] if problem is not None else []

    async def check(self, draft: Draft, requester: Requester, *, channel_field: Field = "destination") -> None:
        """The guardrails that need no database: who, where, to which countries. Raises DraftError."""
        problems = await self.who_may_send(requester.user_id, requester.channel_id, field=channel_field)
        problems += self.guardrails.country_problems(draft.recipients)
        if problems:
            raise DraftError(problems)
        await self.check_window(draft)

    async def last_written(self, provider: Provider, number: str) -> datetime | None:
        """When `number` last wrote on `provider`'s channel (naive UTC), or None."""
        return await self.ledger.last_written(self.channel_key(provider), number)

    async def check_window(self, draft: Draft) -> None:
        """Free text (no template) on WhatsApp only inside the 24 hours after the customer last wrote,
        when webhooks tell us when that was. Raises DraftError saying when they wrote and what to send.

        A scheduled message is judged when it is scheduled, from what is known then: the window must
        still be open at the time it is for (a customer writing again in between cannot be counted on)."""
        if not self.window_known or draft.provider.is_sms or draft.template is not None:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        at = now if draft.schedule is None else draft.schedule.astimezone(UTC).replace(tzinfo=None)
        problems: list[Problem] = []
        for number in draft.recipients:
            last = await self.last_written(draft.provider, number.e164)
            if not is_open(last, at):
                templates = self.rules.templates.for_provider(draft.provider)
                if last is not None and is_open(last, now):  # open now, closed by the scheduled time
                    problems.append(Problem("send_at", closes_before_schedule(number.e164, last, now, at, templates)))
                    continue
                problems.append(Problem("text", closed_reason(number.e164, draft.provider, last, now, templates)))
        if problems:
            raise DraftError(problems)

    async def record(self, draft: Draft, requester: Requester, *, request_key: str | None = None) -> Accepted:
        """Write the sends to the ledger as queued, within the rate limit; raises DraftError saying why not.

        `request_key`: the asking request's replay key, checked and recorded in the same transaction;
        Repeated when it was seen before (then nothing is recorded)."""
        entries = [
            NewSend(
                team_id=requester.team_id,
                user_id=requester.user_id,
                channel_id=requester.channel_id,
                provider=draft.provider.value,
                channel_key=self.channel_key(draft.provider),
                recipient=r.e164,
                name=draft.name,
                text=draft.text,
                image_urls=draft.image_urls,
                file_url=draft.file_url,
                via=requester.via,
                video_url=draft.video_url,
                template=draft.template.to_record() if draft.template is not None else None,
                save_contact=draft.save_contact,
            )
            for r in draft.recipients
        ]
        try:
            result = await self.ledger.reserve(
                entries,
                user_id=requester.user_id,
                limit_per_minute=self.guardrails.policy.rate_limit_per_minute,
                request_key=request_key,
            )
        except Exception:
            log.exception("could not record the send in the ledger")
            raise DraftError(
                [Problem("to", "The bot cannot record messages right now, so nothing was sent: try again shortly.")]
            ) from None
        if isinstance(result, SeenBefore):
            raise Repeated(result.key)
        if isinstance(result, RateLimited):
            log.warning("refused: user %s is over the rate limit", requester.user_id)
            raise DraftError([rate_problem(result)])
        if draft.schedule is not None:
            await self._note_schedule(result, draft.schedule)
        return Accepted(draft, requester, tuple(result))

    async def _note_schedule(self, send_ids: Sequence[str], when: datetime) -> None:
        """When the sends are due, beside them in the ledger; if that cannot be written, none is sent."""
        try:
            await self.ledger.note_schedule(send_ids, when, getattr(when.tzinfo, "key", "UTC"))
        except Exception:
            log.exception("could not record the schedule in the ledger")
            for send_id in send_ids:
                finished = self.ledger.finish(
                    send_id, SendStatus.FAILED, message_id=None, error=NOT_RECORDED, http_status=None
                )
                await _safely(finished, f"abandoning {send_id}")
            raise DraftError(
                [Problem("to", "The bot cannot record messages right now, so nothing was sent: try again shortly.")]
            ) from None

    async def accept(self, draft: Draft, requester: Requester, *, channel_field: Field = "destination") -> Accepted:
        """`check` then `record`: every guardrail, and the sends written down as queued."""
        await self.check(draft, requester, channel_field=channel_field)
        return await self.record(draft, requester)

    async def abandon(self, accepted: Accepted, error: str) -> None:
        """Record an accepted send that will not go out after all (its final text failed a check)."""
        for send_id in accepted.send_ids:
            await self.ledger.finish(send_id, SendStatus.FAILED, message_id=None, error=error, http_status=None)

    async def refuse(self, send_id: str, error: str) -> None:
        """Record one accepted send as not sent (its recipient is blocked): it never reaches Sociocs."""
        await self.ledger.finish(send_id, SendStatus.FAILED, message_id=None, error=error, http_status=None)

    async def history(self, user_id: str, limit: int = 10) -> list[SendRecord]:
        """The person's latest sends, newest first."""
        return await self.ledger.history(user_id, limit=limit)

    # Sending --------------------------------------------------------------------------------------------

    async def send(self, accepted: Accepted, reporter: Reporter) -> list[Outcome]:
        """Send to each recipient, record and report every outcome; never raises for a send failure."""
        draft = accepted.draft
        await _safely(reporter.started(draft), "reporting the start of a send")
        report = reporter.location()
        # The body is the same for every recipient but the number: built (and the sender looked up) once.
        base = await self._payload(draft, draft.recipients[0], accepted.requester) if draft.recipients else None
        outcomes = await asyncio.gather(
            *(
                self._one(draft, recipient, send_id, reporter, accepted.requester, report, base)
                for recipient, send_id in zip(draft.recipients, accepted.send_ids, strict=True)
            )
        )
        await _safely(reporter.done(), "reporting the end of a send")
        return list(outcomes)

    async def _one(
        self,
        draft: Draft,
        recipient: PhoneNumber,
        send_id: str,
        reporter: Reporter,
        requester: Requester,
        report: Report | None = None,
        base: MessagePayload | None = None,
    ) -> Outcome:
        """`base`: the send's body for another of its recipients (see `send`), else built here."""
        if base is None:
            payload = await self._payload(draft, recipient, requester)
        else:
            payload = base if base.to == recipient.e164 else base.model_copy(update={"to": recipient.e164})
        started = time.perf_counter()
        with metrics.sends_in_flight():
            outcome = await self._attempts(send_id, payload, draft, report)
        metrics.record_send(draft.provider.value, outcome.kind.value, None)
        elapsed_ms = (time.perf_counter() - started) * 1000
        await self._record_outcome(send_id, outcome, scheduled=draft.schedule is not None)
        if outcome.message_id and self.after_sent is not None:
            await _safely(self.after_sent(outcome.message_id), f"applying early status updates of {send_id}")
        if log.isEnabledFor(logging.INFO):  # its arguments are built only when it is written
            shown = recipient.e164 if self._log_numbers else recipient.masked()
            log.info(
                "send %s provider=%s to=%s outcome=%s message_id=%s status=%s latency_ms=%.0f via=%s user=%s",
                send_id,
                draft.provider.value,
                shown,
                outcome.kind.value,
                outcome.message_id or "-",
                outcome.http_status or "-",
                elapsed_ms,
                requester.via,
                requester.user_id,
                extra={
                    "send_id": send_id,
                    "user": requester.user_id,
                    "provider": draft.provider.value,
                    "recipient": shown,
                    "outcome": outcome.kind.value,
                    "latency_ms": round(elapsed_ms),
                },
            )
        await _safely(reporter.finished(recipient, payload, outcome, send_id), f"reporting the outcome of {send_id}")
        return outcome

    async def _payload(self, draft: Draft, recipient: PhoneNumber, requester: Requester) -> MessagePayload:
        """The `POST /message` body for `recipient`, sent as the requester's Sociocs team member when known."""
        payload = payload_for(draft, recipient, self.channel_key(draft.provider))
        if self.sender_of is not None:
            sociocs_user = await _quietly(self.sender_of(requester.user_id))
            if sociocs_user:
                payload = payload.model_copy(update={"user_id": sociocs_user})
        return payload

    async def _attempts(self, send_id: str, payload: MessagePayload, draft: Draft, report: Report | None) -> Outcome:
        """Call Sociocs, retrying on its own only while the message provably did not go out.

        Fails closed: Sociocs is called only after the ledger durably says the send is pending, so a
        crash can never leave a message that went out looking "not sent".
        """
        for attempt in range(AUTO_ATTEMPTS):
            try:
                ours = await self.ledger.start_attempt(send_id, text=draft.text, name=draft.name, report=report)
            except Exception:
                log.exception("send %s: the ledger cannot record the attempt, so it is not sent", send_id)
                return Outcome.failed(NOT_RECORDED, hint="Try again shortly; if it keeps failing, tell an admin.")
            if not ours:
                log.warning("send %s was taken over by another bot process; not sending it here", send_id)
                return Outcome.failed(TAKEN_OVER, hint="Check its thread before sending it again.")
            if self._sender is None:
                return Outcome.dry_run()
            requested = time.perf_counter()
            outcome = await self._sender.send(payload)
            metrics.observe_sociocs_request(draft.provider.value, time.perf_counter() - requested)
            if not outcome.retryable or attempt == AUTO_ATTEMPTS - 1:
                return outcome
            delay = backoff(attempt, outcome.retry_after) * self._backoff_scale
            log.info(
                "send %s not accepted (%s); trying again in %.1f s",
                send_id,
                outcome.http_status or "no connection",
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _record_outcome(self, send_id: str, outcome: Outcome, *, scheduled: bool = False) -> None:
        """Write the outcome, trying again for a while when the ledger is down: until it is written, a
        restart would report the send as "unknown", which is true but less than we know."""
        for delay in (*FINISH_RETRY_DELAYS, None):
            try:
                status = _STATUS[outcome.kind]
                if scheduled and status is SendStatus.SENT:
                    status = SendStatus.SCHEDULED  # Sociocs holds it until its time
                await self.ledger.finish(
                    send_id,
                    status,
                    message_id=outcome.message_id,
                    error=outcome.error,
                    http_status=outcome.http_status,
                )
                return
            except Exception as exc:
                if delay is None:
                    log.error("send %s: could not record its outcome (%s); gave up", send_id, type(exc).__name__)
                    return
                log.warning("send %s: could not record its outcome (%s); trying again", send_id, type(exc).__name__)
                await asyncio.sleep(delay)

    # Recovery ------------------------------------------------------------------------------------------

    async def recover(self) -> list[SendRecord]:
        """Claim the unfinished sends of processes that are gone (each claimed once across replicas),
        marked as what is known of them: queued ones failed (never sent), pending ones unknown."""
        return await self.ledger.recover()

    async def live_processes(self) -> int:
        """How many bot processes share the ledger now (at least this one): they share Slack's limits."""
        return await self.ledger.live_instances()

    @property
    def recovery_period(self) -> float:
        """Seconds between recovery sweeps: half the silence after which a process is presumed gone."""
        return self.ledger.dead_after / 2

    # Retrying by hand -----------------------------------------------------------------------------------

    async def retryable(self, send_ids: Sequence[str]) -> list[str]:
        """Those of the sends that failed, may not have gone out, or were not delivered, in order."""
        records = await self.ledger.sends_in_order(send_ids)
        return [
            r.id
            for r in records
            if r.status in (SendStatus.FAILED, SendStatus.UNKNOWN) or r.delivery_status in UNDELIVERED
        ]

    async def find(self, send_id: str) -> SendRecord:
        """The recorded send; UnknownSend when there is none."""
        record = await self.ledger.get(send_id)
        if record is None:
            raise UnknownSend(send_id)
        return record

    async def retry(self, send_id: str, presser: Requester, reporter: Reporter) -> Outcome:
        """One new attempt at a failed or unknown send, for whoever pressed Retry: its outcome.

        Raises DraftError with the problems that stop this person, NothingToRetry when someone already
        retried it or it was sent, UnknownSend when there is no such send.
        """
        record = await self.ledger.get(send_id)
        if record is None:
            raise NothingToRetry(send_id)
        draft = draft_from_record(record)
        problems = await self.who_may_send(presser.user_id, record.channel_id)
        if record.status in (SendStatus.FAILED, SendStatus.UNKNOWN):
            draft, late = await self._as_scheduled(draft, send_id)
            problems += late
        else:  # not delivered after its time: a retry goes now
            draft = replace(draft, schedule=None)
        problems += self.guardrails.country_problems(draft.recipients)
        problems += [p for n in draft.recipients if (p := self.rules.number_problem(n)) is not None]
        if self.rules.channel_key(draft.provider) is None and not self.dry_run:
            problems.append(
                Problem(
                    "provider",
                    f"{draft.provider.label} is no longer set up: an admin must set "
                    f"{draft.provider.channel_key_setting}.",
                )
            )
        if problems:
            raise DraftError(problems)
        await self.check_window(draft)
        claim = await self.ledger.claim_retry(
            send_id, user_id=presser.user_id or "", limit_per_minute=self.guardrails.policy.rate_limit_per_minute
        )
        if isinstance(claim, RateLimited):
            raise DraftError([rate_problem(claim)])
        if claim is None:
            raise NothingToRetry(send_id)
        await _safely(reporter.started(draft), "reporting the start of a retry")
        outcome = await self._one(draft, draft.recipients[0], send_id, reporter, presser)
        await _safely(reporter.done(), "reporting the end of a retry")
        return outcome

    async def _as_scheduled(self, draft: Draft, send_id: str) -> tuple[Draft, list[Problem]]:
        """A send that was to be scheduled and never reached Sociocs is retried for the same time,
        never sent at once; once that time has passed it is refused (a surprise, not a schedule)."""
        scheduled = await self.ledger.schedule_of(send_id)
        if scheduled is None:
            return draft, []
        when = scheduled.send_at.astimezone(zone_named(scheduled.zone))
        if when < datetime.now(UTC) + MIN_AHEAD:
            return draft, [
                Problem("send_at", "The time it was scheduled for has passed: send it again with a new --at.")
            ]
        return replace(draft, schedule=when), []


def draft_from_record(record: SendRecord) -> Draft:
    return Draft(
        provider=Provider(record.provider),
        recipients=(_recorded_number(record.recipient),),
        text=record.text,
        name=record.name,
        image_urls=record.image_urls,
        file_url=record.file_url,
        schedule=record.schedule,
        video_url=record.video_url,
        template=TemplateUse.from_record(record.template) if record.template is not None else None,
        save_contact=record.save_contact,
    )


def _recorded_number(e164: str) -> PhoneNumber:
    """A number from the ledger, with its country for the guardrails (it was valid when recorded)."""
    try:
        return parse_number(e164, None)
    except InvalidNumber:
        return PhoneNumber(e164, None)


async def _safely(step: object, what: str) -> None:
    """Run a reporting or recording step; its failure is logged, never allowed to stop the sends."""
    try:
        await step  # type: ignore[misc]
    except Exception:
        log.exception("failed while %s", what)


async def _quietly(step: Awaitable[str | None]) -> str | None:
    """A lookup that must never stop a send: its failure is logged and counts as no answer."""
    try:
        return await step
    except Exception:
        log.exception("could not tell which Sociocs team member sends this")
        return None


def with_draft(accepted: Accepted, draft: Draft) -> Accepted:
    """The same accepted send with its final text (mentions resolved after Slack was answered)."""
    return replace(accepted, draft=draft)
