"""SendService against a real SQLite ledger, with a scripted Sociocs and a recording reporter."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.domain.draft import DraftError, RawDraft, Rules, make_draft
from bot.domain.outcome import Outcome, OutcomeKind
from bot.domain.providers import Provider
from bot.guardrails import Guardrails, Policy
from bot.ledger import Ledger, Report, SendStatus
from bot.sending import AUTO_ATTEMPTS, NOT_RECORDED, TAKEN_OVER, NothingToRetry, Requester, SendService, backoff
from tests.unit.conftest import RecordingReporter, ScriptedSender

pytestmark = pytest.mark.anyio

RULES = Rules(channel_keys={Provider.TWLO: "ck-twlo", Provider.TWLOWA: "ck-wa"}, default_provider=Provider.TWLO)
WHO = Requester("T1", "U1", "C1", "command")
A, B = "+16175550101", "+16175550102"


async def no_groups(group: str) -> frozenset[str]:
    return frozenset()


def service(
    ledger: Ledger, sender: ScriptedSender | None, policy: Policy | None = None, rules: Rules = RULES
) -> SendService:
    # Retry-After and backoff waits scaled to nothing: the decisions are what is tested, not the clock.
    return SendService(sender, rules, ledger, Guardrails(policy or Policy(), no_groups), backoff_scale=0.0)


def draft(*numbers: str, text: str = "Your table is ready", **kw: Any) -> Any:
    return make_draft(RawDraft(recipients=list(numbers or (A,)), text=text, **kw), RULES)


async def test_accept_records_every_recipient_as_queued_before_anything_is_sent(ledger: Ledger):
    sender = ScriptedSender()
    accepted = await service(ledger, sender).accept(draft(A, B, name="Ann"), WHO)
    assert len(accepted.send_ids) == 2 and sender.payloads == []
    records = await ledger.sends_in_order(accepted.send_ids)
    assert [(r.recipient, r.status, r.channel_key, r.user_id, r.via) for r in records] == [
        (A, SendStatus.QUEUED, "ck-twlo", "U1", "command"),
        (B, SendStatus.QUEUED, "ck-twlo", "U1", "command"),
    ]


async def test_send_calls_sociocs_once_per_recipient_records_and_reports(ledger: Ledger):
    sender = ScriptedSender(Outcome.sent("SM1"), Outcome.failed("Number is blocked.", 400))
    svc = service(ledger, sender)
    accepted = await svc.accept(draft(A, B), WHO)
    reporter = RecordingReporter(Report("C1", None, "1.1"))
    outcomes = await svc.send(accepted, reporter)
    assert sorted(o.kind for o in outcomes) == [OutcomeKind.FAILED, OutcomeKind.SENT]
    assert sorted(p.to for p in sender.payloads) == [A, B]
    assert all(p.channel_key == "ck-twlo" and p.text == "Your table is ready" for p in sender.payloads)
    assert [k for k, _ in reporter.events] == ["started", "finished", "finished", "done"]
    records = {r.recipient: r for r in await ledger.sends_in_order(accepted.send_ids)}
    sent = next(o for o in outcomes if o.ok)
    sent_to = next(n for n, o in reporter.outcomes().items() if o.ok)
    assert records[sent_to].status is SendStatus.SENT and records[sent_to].message_id == sent.message_id
    failed_to = next(n for n, o in reporter.outcomes().items() if not o.ok)
    assert records[failed_to].status is SendStatus.FAILED and records[failed_to].http_status == 400
    assert records[sent_to].summary_ts == "1.1"  # where it was reported, for later updates


async def test_a_failing_reporter_never_stops_the_sends(ledger: Ledger):
    svc = service(ledger, ScriptedSender())
    accepted = await svc.accept(draft(A), WHO)
    outcomes = await svc.send(accepted, RecordingReporter(fail=True))
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT]
    assert (await ledger.get(accepted.send_ids[0])).status is SendStatus.SENT  # type: ignore[union-attr]


async def test_dry_run_records_and_reports_but_calls_nobody(ledger: Ledger):
    svc = service(ledger, None)
    assert svc.dry_run
    accepted = await svc.accept(draft(A), WHO)
    reporter = RecordingReporter()
    assert [o.kind for o in await svc.send(accepted, reporter)] == [OutcomeKind.DRY_RUN]
    assert (await ledger.get(accepted.send_ids[0])).status is SendStatus.DRY_RUN  # type: ignore[union-attr]


async def test_dry_run_without_a_channel_key_says_which_setting_is_unset(ledger: Ledger):
    rules = Rules(channel_keys={}, default_provider=Provider.TWLO, dry_run=True)
    svc = service(ledger, None, rules=rules)
    assert svc.channel_key(Provider.TWLO) == "(unset: SOCIOCS_CHANNEL_KEY_TWLO)"


async def test_the_rate_limit_refuses_the_send_that_would_go_over_and_says_how_long(ledger: Ledger):
    svc = service(ledger, ScriptedSender(), Policy(rate_limit_per_minute=3))
    await svc.accept(draft(A, B), WHO)
    with pytest.raises(DraftError) as refused:
        await svc.accept(draft(A, B), WHO)
    (problem,) = refused.value.problems
    assert problem.field == "to" and "limit of 3 messages a minute" in problem.message
    assert "try again in" in problem.message
    await svc.accept(draft(A), WHO)  # the one that still fits
    await svc.accept(draft(A), Requester("T1", "U2", "C1", "command"))  # counted per person


async def test_a_ledger_that_cannot_record_refuses_the_send(ledger: Ledger, monkeypatch: pytest.MonkeyPatch):
    async def broken(*args: Any, **kw: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "reserve", broken)
    with pytest.raises(DraftError, match="cannot record messages right now"):
        await service(ledger, ScriptedSender()).accept(draft(A), WHO)


async def test_check_applies_user_channel_and_country_guardrails_together(ledger: Ledger):
    policy = Policy(
        allowed_users=frozenset({"U9"}), allowed_channels=frozenset({"C9"}), allowed_countries=frozenset({"GB"})
    )
    sender = ScriptedSender()
    with pytest.raises(DraftError) as refused:
        await service(ledger, sender, policy).accept(draft(A), WHO)
    assert [p.field for p in refused.value.problems] == ["provider", "destination", "to"]
    assert await ledger.history("U1") == []  # nothing recorded


# Automatic retries: only while the message provably did not go out ------------------------------------


async def sent_after(ledger: Ledger, *outcomes: Outcome) -> tuple[Outcome, ScriptedSender, Any]:
    sender = ScriptedSender(*outcomes)
    svc = service(ledger, sender)
    accepted = await svc.accept(draft(A), WHO)
    (outcome,) = await svc.send(accepted, RecordingReporter())
    return outcome, sender, await ledger.get(accepted.send_ids[0])


async def test_a_429_with_retry_after_is_tried_again_and_then_sent(ledger: Ledger):
    outcome, sender, record = await sent_after(
        ledger, Outcome.failed("rate limit reached", 429, 2.0, retryable=True), Outcome.sent("SM7")
    )
    assert outcome == Outcome.sent("SM7") and len(sender.payloads) == 2
    assert record.status is SendStatus.SENT and record.attempts == 2


async def test_a_refused_connection_is_tried_again(ledger: Ledger):
    refused = Outcome.failed("could not connect to Sociocs (ConnectError)", retryable=True)
    outcome, sender, _ = await sent_after(ledger, refused, refused, Outcome.sent("SM8"))
    assert outcome.ok and len(sender.payloads) == AUTO_ATTEMPTS


async def test_automatic_retries_stop_after_three_attempts(ledger: Ledger):
    limited = Outcome.failed("rate limit reached", 429, 1.0, retryable=True)
    outcome, sender, record = await sent_after(ledger, *[limited] * 5)
    assert outcome == limited and len(sender.payloads) == AUTO_ATTEMPTS
    assert record.status is SendStatus.FAILED and record.http_status == 429


@pytest.mark.parametrize(
    "first",
    [
        Outcome.unknown("Sociocs did not answer within 3 s"),  # a timeout: it may have gone out
        Outcome.unknown("Sociocs server error: Bad Gateway", 502),
        Outcome.failed("Invalid phone number.", 400),
        Outcome.failed("Invalid API key.", 401),
    ],
)
async def test_never_tried_again_after_a_timeout_a_5xx_or_a_refusal(ledger: Ledger, first: Outcome):
    outcome, sender, record = await sent_after(ledger, first, Outcome.sent("SM9"))
    assert outcome == first and len(sender.payloads) == 1
    assert record.status.value == first.kind.value and record.error == first.error


def test_backoff_honours_retry_after_within_a_cap_else_grows():
    assert backoff(0, 2.5) == 2.5 and backoff(0, 600.0) == 30.0
    assert 0.5 <= backoff(0, None) <= 1.0 and 4.0 <= backoff(3, None) <= 8.0 and backoff(10, None) <= 30.0


async def test_the_backoff_waits_retry_after(ledger: Ledger):
    sender = ScriptedSender(Outcome.failed("rate limit reached", 429, 0.2, retryable=True))
    svc = SendService(sender, RULES, ledger, Guardrails(Policy(), no_groups))
    accepted = await svc.accept(draft(A), WHO)
    started = time.monotonic()
    await svc.send(accepted, RecordingReporter())
    assert time.monotonic() - started >= 0.2


# Failing closed: no Sociocs call unless the ledger durably says the send is pending --------------------


async def test_no_sociocs_call_when_the_attempt_cannot_be_recorded(ledger: Ledger, monkeypatch: pytest.MonkeyPatch):
    async def broken(*args: Any, **kw: Any) -> bool:
        raise OSError("database is locked")

    sender = ScriptedSender()
    svc = service(ledger, sender)
    accepted = await svc.accept(draft(A), WHO)
    monkeypatch.setattr(ledger, "start_attempt", broken)
    (outcome,) = await svc.send(accepted, RecordingReporter())
    assert sender.payloads == []
    assert outcome.kind is OutcomeKind.FAILED and outcome.error == NOT_RECORDED and outcome.hint


async def test_no_sociocs_call_when_another_process_took_the_send_over(ledger: Ledger, monkeypatch: pytest.MonkeyPatch):
    async def not_ours(*args: Any, **kw: Any) -> bool:
        return False

    sender = ScriptedSender()
    svc = service(ledger, sender)
    accepted = await svc.accept(draft(A), WHO)
    monkeypatch.setattr(ledger, "start_attempt", not_ours)
    (outcome,) = await svc.send(accepted, RecordingReporter())
    assert sender.payloads == [] and outcome.error == TAKEN_OVER


async def test_an_outcome_is_written_down_once_the_ledger_is_back(ledger: Ledger, monkeypatch: pytest.MonkeyPatch):
    import bot.sending

    monkeypatch.setattr(bot.sending, "FINISH_RETRY_DELAYS", (0.0, 0.0))
    real_finish, failures = ledger.finish, []

    async def flaky(*args: Any, **kw: Any) -> None:
        if len(failures) < 2:
            failures.append(1)
            raise OSError("database is locked")
        await real_finish(*args, **kw)

    monkeypatch.setattr(ledger, "finish", flaky)
    svc = service(ledger, ScriptedSender())
    accepted = await svc.accept(draft(A), WHO)
    await svc.send(accepted, RecordingReporter())
    assert (await ledger.get(accepted.send_ids[0])).status is SendStatus.SENT  # type: ignore[union-attr]


async def test_an_outcome_that_cannot_be_written_is_given_up_without_raising(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    import bot.sending

    async def broken(*args: Any, **kw: Any) -> None:
        raise OSError("database is gone")

    monkeypatch.setattr(bot.sending, "FINISH_RETRY_DELAYS", (0.0,))
    monkeypatch.setattr(ledger, "finish", broken)
    svc = service(ledger, ScriptedSender())
    accepted = await svc.accept(draft(A), WHO)
    (outcome,) = await svc.send(accepted, RecordingReporter())
    assert outcome.ok  # what Sociocs said is still reported


async def test_after_sent_hears_each_message_id(ledger: Ledger):
    heard: list[str] = []

    async def after(message_id: str) -> None:
        heard.append(message_id)

    svc = service(ledger, ScriptedSender(Outcome.sent("SM42")))
    svc.after_sent = after
    await svc.send(await svc.accept(draft(A), WHO), RecordingReporter())
    assert heard == ["SM42"]


# Retry by hand ---------------------------------------------------------------------------------------------


async def failed_send(ledger: Ledger, svc: SendService, number: str = A) -> str:
    svc._sender = ScriptedSender(Outcome.failed("Try again later.", 400))  # type: ignore[assignment]
    accepted = await svc.accept(draft(number), WHO)
    await svc.send(accepted, RecordingReporter())
    return accepted.send_ids[0]


async def test_retry_claims_once_however_many_presses(ledger: Ledger):
    svc = service(ledger, None)
    send_id = await failed_send(ledger, svc)
    sender = ScriptedSender()
    svc._sender = sender  # type: ignore[assignment]
    presser = Requester("T1", "U2", "C1", "retry")
    first = await svc.retry(send_id, presser, RecordingReporter())
    with pytest.raises(NothingToRetry):
        await svc.retry(send_id, presser, RecordingReporter())
    assert first.ok
    assert len(sender.payloads) == 1
    record = await ledger.get(send_id)
    assert record.status is SendStatus.SENT and record.retried_by == "U2"  # type: ignore[union-attr]


async def test_retry_of_an_unknown_id_does_nothing(ledger: Ledger):
    with pytest.raises(NothingToRetry):
        await service(ledger, ScriptedSender()).retry("nope", WHO, RecordingReporter())


async def test_retry_obeys_the_guardrails_for_whoever_presses(ledger: Ledger):
    svc = service(ledger, None, Policy(allowed_users=frozenset({"U1"})))
    send_id = await failed_send(ledger, svc)
    sender = ScriptedSender()
    svc._sender = sender  # type: ignore[assignment]
    with pytest.raises(DraftError) as refused:
        await svc.retry(send_id, Requester("T1", "U2", "C1", "retry"), RecordingReporter())
    assert [p.field for p in refused.value.problems] == ["provider"]
    assert sender.payloads == [] and (await ledger.get(send_id)).status is SendStatus.FAILED  # type: ignore[union-attr]


async def test_retry_refuses_a_provider_no_longer_set_up(ledger: Ledger):
    svc = service(ledger, None)
    send_id = await failed_send(ledger, svc)
    svc.rules = Rules(channel_keys={Provider.TWLOWA: "ck-wa"}, default_provider=Provider.TWLOWA)
    with pytest.raises(DraftError) as refused:
        await svc.retry(send_id, WHO, RecordingReporter())
    assert "SOCIOCS_CHANNEL_KEY_TWLO" in refused.value.problems[0].message


async def test_retry_is_counted_in_the_rate_limit(ledger: Ledger):
    svc = service(ledger, None, Policy(rate_limit_per_minute=1))
    send_id = await failed_send(ledger, svc)
    with pytest.raises(DraftError) as refused:
        await svc.retry(send_id, WHO, RecordingReporter())
    assert "limit of 1 messages a minute" in refused.value.problems[0].message


async def test_a_send_to_several_looks_up_its_sociocs_sender_once_and_each_body_is_its_recipients(ledger: Ledger):
    from bot.domain.payload import payload_for

    sender = ScriptedSender()
    svc = service(ledger, sender)
    asked: list[str | None] = []

    async def sender_of(user_id: str | None) -> str | None:
        asked.append(user_id)
        return "member-7"

    svc.sender_of = sender_of
    numbers = [f"+1617555{i:04d}" for i in range(300, 310)]
    accepted = await svc.accept(draft(*numbers, name="Ann"), WHO)
    await svc.send(accepted, RecordingReporter())
    assert asked == ["U1"]  # once for the send, not once per recipient (#18)
    expected = {
        n.e164: payload_for(accepted.draft, n, "ck-twlo").model_copy(update={"user_id": "member-7"})
        for n in accepted.draft.recipients
    }
    assert len(sender.payloads) == 10 and {p.to: p for p in sender.payloads} == expected
    assert all(p.to_json() == expected[p.to].to_json() for p in sender.payloads)  # the same bodies, byte for byte
    assert list(sender.payloads[0].to_json()) == list(expected[sender.payloads[0].to].to_json())  # and key order


async def test_a_failed_sender_lookup_sends_every_recipient_as_the_api(ledger: Ledger):
    sender = ScriptedSender()
    svc = service(ledger, sender)

    async def sender_of(user_id: str | None) -> str | None:
        raise RuntimeError("Sociocs is down")

    svc.sender_of = sender_of
    accepted = await svc.accept(draft(A, B), WHO)
    outcomes = await svc.send(accepted, RecordingReporter())
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT, OutcomeKind.SENT]
    assert sorted(p.to for p in sender.payloads) == [A, B] and all(p.user_id is None for p in sender.payloads)
