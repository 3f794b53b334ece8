"""The Slack reporters and the outbox, in process, through slack_sdk's client against the Slack stand-in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

import aiohttp
import pytest

from bot.domain.draft import RawDraft, Rules, make_draft
from bot.domain.outcome import Outcome
from bot.domain.providers import Provider
from bot.guardrails import Guardrails, Policy
from bot.ledger import Ledger
from bot.replies import ReplyBook
from bot.sending import Requester, SendService
from bot.slack.outbox import Outbox, PacedWebClient
from bot.slack.outcome_reply import Replies, ReplyReporter
from bot.slack.report import SlackThreadReporter
from bot.standins import SlackStandin
from tests.conftest import BOT_TOKEN
from tests.unit.conftest import ScriptedSender

pytestmark = pytest.mark.anyio

RULES = Rules(channel_keys={Provider.TWLO: "ck-twlo"}, default_provider=Provider.TWLO)
_numbers = count(100)


def numbers(n: int) -> list[str]:
    return [f"+1617555{next(_numbers):04d}" for _ in range(n)]


@pytest.fixture
async def client(slack: SlackStandin) -> AsyncIterator[PacedWebClient]:
    session = aiohttp.ClientSession()
    try:
        yield PacedWebClient(token=BOT_TOKEN, base_url=slack.api_url, session=session, retry_handlers=[])
    finally:
        await session.close()


class Private:
    """A private sink (a response_url or a DM) that keeps what it was given."""

    def __init__(self) -> None:
        self.told: list[tuple[str, list[dict[str, Any]] | None]] = []

    async def __call__(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.told.append((text, blocks))


async def no_groups(group: str) -> frozenset[str]:
    return frozenset()


async def send(
    ledger: Ledger,
    client: PacedWebClient,
    channel: str,
    to: list[str],
    outcomes: list[Outcome],
    *,
    managed: bool = True,
    **reporter_kw: Any,
) -> tuple[SlackThreadReporter, Private, tuple[str, ...]]:
    svc = SendService(ScriptedSender(*outcomes), RULES, ledger, Guardrails(Policy(), no_groups), backoff_scale=0)
    accepted = await svc.accept(
        make_draft(RawDraft(recipients=to, text="Reopening Monday"), RULES),
        Requester("T", "U0SENDER", channel, "command"),
    )
    private = Private()
    reporter = SlackThreadReporter(
        client,
        channel_id=channel,
        sender_id="U0SENDER",
        private=private,
        dry_run=False,
        bot_user_id="U0BOT",
        send_ids=accepted.send_ids,
        replies=Replies(client, Outbox(client), ReplyBook(ledger)) if managed else None,
        book=ReplyBook(ledger) if managed else None,
        **reporter_kw,
    )
    await svc.send(accepted, reporter)
    return reporter, private, accepted.send_ids


def posted(slack: SlackStandin, channel: str) -> list[dict[str, Any]]:
    return [c.args for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def blocks_of(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


async def test_one_summary_then_one_reply_listing_every_outcome(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger
):
    to = numbers(3)
    failed = Outcome.failed("Number is blocked.", 400)
    reporter, private, send_ids = await send(
        ledger, client, "C0R1", to, [Outcome.sent("SM1"), failed, Outcome.sent("SM3")]
    )
    summary, reply = posted(slack, "C0R1")
    assert "thread_ts" not in summary or not summary.get("thread_ts")
    assert reply["thread_ts"] == reporter.parent_ts and reporter.location().summary_ts == reporter.parent_ts  # type: ignore[union-attr]
    shown = slack.current("C0R1", slack.calls_to("chat.postMessage")[-1].response["ts"])
    assert shown is not None and all(n in shown["text"] for n in to)  # one reply, every recipient
    retry = [e for b in blocks_of(shown) for e in [b.get("accessory") or {}] if e.get("action_id") == "retry_send"]
    assert len(retry) == 1  # the failed one offers Retry
    assert private.told == [] and slack.ratelimited("C0R1") == []
    state = await ledger.reply_state("C0R1", str(reporter.parent_ts))
    assert state is not None and state.complete and state.send_ids == send_ids


async def test_without_a_managed_reply_each_outcome_is_its_own_reply(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger
):
    to = numbers(2)
    reporter, private, _ = await send(
        ledger, client, "C0R2", to, [Outcome.sent("SM1"), Outcome.sent("SM2")], managed=False
    )
    _, *replies = posted(slack, "C0R2")
    assert len(replies) == 2 and all(r["thread_ts"] == reporter.parent_ts for r in replies)
    assert private.told == []


async def test_a_retry_reports_in_the_existing_thread_without_a_summary(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger
):
    (to,) = numbers(1)
    _, _, _ = await send(
        ledger,
        client,
        "C0R3",
        [to],
        [Outcome.sent("SM1")],
        managed=False,
        summary=False,
        thread_ts="1.000001",
        prefix="<@U0OTHER> retried: ",
    )
    (reply,) = posted(slack, "C0R3")
    assert reply["thread_ts"] == "1.000001" and reply["text"].startswith("<@U0OTHER> retried: ")


@pytest.mark.parametrize("recipients", [1, 3])
async def test_a_conversation_closed_to_the_bot_is_reported_privately_with_a_hint(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger, recipients: int
):
    to = numbers(recipients)
    failed = Outcome.failed("Number is blocked.", 400)
    reporter, private, _ = await send(
        ledger, client, "C0NOTIN", to, [failed] + [Outcome.sent("SM2")] * (recipients - 1)
    )
    assert reporter.location() is None and posted(slack, "C0NOTIN") == [slack.calls_to("chat.postMessage")[0].args]
    ((text, blocks),) = private.told
    assert all(n in text for n in to) and "Invite <@U0BOT> to that conversation" in text
    assert blocks and any(b.get("type") == "context" for b in blocks)
    assert "retry_send" in json.dumps(blocks)  # the failed one can still be retried from there


async def test_a_reply_slack_refuses_goes_privately_at_the_end(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    import bot.slack.outcome_reply as outcome_reply

    original = outcome_reply.render

    def too_big(records: Any, **kw: Any) -> Any:
        text, blocks, shown, complete = original(records, **kw)
        return text, blocks * 60, shown, complete  # more blocks than Slack takes: refused, not rate-limited

    monkeypatch.setattr(outcome_reply, "render", too_big)
    (to,) = numbers(1)
    _, private, _ = await send(ledger, client, "C0R4", [to], [Outcome.sent("SM1")])
    ((text, _),) = private.told
    assert text.startswith("I could not post these outcomes in the thread:") and to in text


async def test_reply_reporter_edits_the_sends_reply_in_place(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger
):
    to = numbers(2)
    failed = Outcome.failed("Try again later.", 400)
    reporter, _, send_ids = await send(ledger, client, "C0R5", to, [Outcome.sent("SM1"), failed])
    state = await ledger.reply_state("C0R5", str(reporter.parent_ts))
    assert state is not None and state.reply_ts is not None
    posts_before = len(posted(slack, "C0R5"))
    svc = SendService(ScriptedSender(Outcome.sent("SM9")), RULES, ledger, Guardrails(Policy(), no_groups))
    failed_id = next(r.id for r in await ledger.sends_in_order(send_ids) if r.status.value == "failed")
    replies = Replies(client, Outbox(client), ReplyBook(ledger))
    outcome = await svc.retry(failed_id, Requester("T", "U0OTHER", "C0R5", "retry"), ReplyReporter(replies, state))
    assert isinstance(outcome, Outcome) and outcome.ok
    assert len(posted(slack, "C0R5")) == posts_before  # edited, not posted again
    shown = slack.current("C0R5", state.reply_ts)
    assert (
        shown is not None and "retry_send" not in json.dumps(shown["blocks"]) and "<@U0OTHER> retried" in shown["text"]
    )


async def test_a_429_is_waited_out_and_the_call_made_again(slack: SlackStandin, client: PacedWebClient):
    other = PacedWebClient(token=BOT_TOKEN, base_url=slack.api_url, session=client.session, retry_handlers=[])
    for i in range(3):  # someone else spent the channel's burst
        await other.chat_postMessage(channel="C0R6", text=f"busy {i}")
    await client.chat_postMessage(channel="C0R6", text="mine")
    assert len(slack.ratelimited("C0R6")) == 1 and client.ratelimited == 1
    assert [a["text"] for a in posted(slack, "C0R6")][-1] == "mine"


async def test_outcomes_arriving_together_share_one_show_of_the_reply(
    slack: SlackStandin, client: PacedWebClient, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    reads: list[str] = []
    original = ledger.reply_state

    async def counted(channel_id: str, summary_ts: str) -> Any:
        reads.append(summary_ts)
        return await original(channel_id, summary_ts)

    monkeypatch.setattr(ledger, "reply_state", counted)
    to = numbers(10)
    reporter, private, send_ids = await send(ledger, client, "C0R6", to, [])
    # One show for the ten outcomes (its state read, and the edit's check), not one per outcome (#18).
    assert len(reads) <= 4
    assert len(posted(slack, "C0R6")) == 2  # the summary and its one reply
    shown = slack.current("C0R6", slack.calls_to("chat.postMessage")[-1].response["ts"])
    assert shown is not None and all(n in shown["text"] for n in to) and private.told == []
    state = await original("C0R6", str(reporter.parent_ts))
    assert state is not None and state.complete and set(state.shown) == set(send_ids)


class GatedBook:
    """A reply book whose state reads wait for `gate` and are counted; `fail` makes the next one raise."""

    def __init__(self) -> None:
        self.reads = 0
        self.gate = asyncio.Event()
        self.fail = False

    async def state(self, channel_id: str, summary_ts: str) -> None:
        self.reads += 1
        await self.gate.wait()
        if self.fail:
            self.fail = False
            raise RuntimeError("the ledger is down")
        return None  # no managed reply: show answers False


async def until(condition: Any) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_a_show_asked_for_while_one_runs_waits_for_a_show_that_reads_the_ledger_after_it(
    client: PacedWebClient,
):
    book = GatedBook()
    replies = Replies(client, Outbox(client), book)  # type: ignore[arg-type]
    first = asyncio.create_task(replies.show("C1", "1.1"))
    await until(lambda: book.reads == 1)  # the first show has read (its state is older than what follows)
    later = [asyncio.create_task(replies.show("C1", "1.1")) for _ in range(5)]
    other = asyncio.create_task(replies.show("C1", "2.2"))  # another reply: its own show, at once
    await until(lambda: book.reads == 2)
    book.gate.set()
    assert await asyncio.gather(first, *later, other) == [False] * 7
    assert book.reads == 3  # the five later calls shared one show, begun after they asked


async def test_a_failed_show_raises_to_every_caller_sharing_it_and_the_next_show_runs_anew(client: PacedWebClient):
    book = GatedBook()
    replies = Replies(client, Outbox(client), book)  # type: ignore[arg-type]
    book.fail = True
    callers = [asyncio.create_task(replies.show("C1", "1.1")) for _ in range(3)]
    await until(lambda: book.reads == 1)
    book.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and book.reads == 1
    assert await replies.show("C1", "1.1") is False and book.reads == 2


async def test_a_caller_that_stops_waiting_does_not_stop_the_show_for_the_others(client: PacedWebClient):
    book = GatedBook()
    replies = Replies(client, Outbox(client), book)  # type: ignore[arg-type]
    impatient = asyncio.create_task(replies.show("C1", "1.1"))
    patient = asyncio.create_task(replies.show("C1", "1.1"))
    await until(lambda: book.reads == 1)
    impatient.cancel()
    book.gate.set()
    assert await patient is False
    with pytest.raises(asyncio.CancelledError):
        await impatient
