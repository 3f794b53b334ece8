"""Faults at the worst moments: nothing acknowledged is lost, nothing is sent twice, no outcome is
claimed that is not known.

The bot is killed with SIGKILL under load and restarted on the same ledger, and the ledger is made to
fail between recording a send and calling Sociocs; each run is reconciled against the ledger, the
Sociocs stand-in and Slack.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.ledger import Ledger, SendRecord, SendStatus
from bot.ledger._store import RESTARTED_BEFORE
from bot.sending import NOT_RECORDED
from standins import SlackStandin, SociocsStandin
from standins.sociocs import Reply
from tests.conftest import RunningBot, new_number, parents_for, replies_for
from tests.test_ledger import fresh_schema


def ledger_rows(url: str, user: str) -> list[SendRecord]:
    async def read() -> list[SendRecord]:
        ledger = await Ledger.open(url)
        try:
            return await ledger.history(user, limit=10_000)
        finally:
            await ledger.close()

    return asyncio.run(read())


def sociocs_count(sociocs: SociocsStandin, number: str) -> int:
    return sum(1 for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number)


def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/crash-ledger.db"
    return fresh_schema(request.getfixturevalue("pg_url"))


def wait_until(condition, timeout: float = 45.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_under_load_loses_no_acknowledged_send_and_sends_none_twice(
    backend: str,
    make_bot,
    slack: SlackStandin,
    sociocs: SociocsStandin,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = database(backend, tmp_path, request)
    # A recovery period far longer than the test: only the restart's proof that its predecessor is
    # gone (SQLite's lock; the same host with a dead pid on PostgreSQL) can explain a prompt report.
    settings = {"DATABASE_URL": url, "LEDGER_RECOVERY_SECONDS": "600", "SOCIOCS_TIMEOUT_SECONDS": "30"}
    first: RunningBot = make_bot(**settings)
    user = f"U0KILL{backend[:2].upper()}"
    numbers = [new_number() for _ in range(60)]
    for number in numbers:
        sociocs.script(number, Reply(delay=0.4))  # so that some sends are in flight when the process dies
    acknowledged: list[str] = []

    def fire(number: str) -> None:
        try:
            answer = first.command(f"{number} under load", user=user, response_name=f"kill-{number}")
        except httpx.HTTPError:
            return  # cut off by the kill: never acknowledged
        if answer.status_code == 200 and answer.text == "":
            acknowledged.append(number)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(fire, n) for n in numbers]
        wait_until(lambda: len(acknowledged) >= 25, what="25 acknowledgements")
        first.process.send_signal(signal.SIGKILL)
        concurrent.futures.wait(futures)
    assert first.stop() == -signal.SIGKILL
    assert acknowledged, "nothing was acknowledged before the kill"

    make_bot(**settings)

    def settled() -> list[SendRecord] | None:
        rows = ledger_rows(url, user)
        unfinished = [r for r in rows if r.status in (SendStatus.QUEUED, SendStatus.PENDING)]
        return rows if not unfinished and {r.recipient for r in rows} >= set(acknowledged) else None

    try:
        rows = wait_until(settled, what="every acknowledged send to be finished or recovered")
    except AssertionError:
        rows = ledger_rows(url, user)
        missing = set(acknowledged) - {r.recipient for r in rows}
        unfinished = [
            (r.status.value, r.recipient) for r in rows if r.status in (SendStatus.QUEUED, SendStatus.PENDING)
        ]
        raise AssertionError(f"acknowledged but not recorded: {sorted(missing)}; unfinished: {unfinished}") from None
    by_number = {r.recipient: r for r in rows}
    assert len(by_number) == len(rows), "a command was recorded twice"
    for number in acknowledged:
        record = by_number[number]
        calls = sociocs_count(sociocs, number)
        assert calls <= 1, f"{record.id} was sent {calls} times"
        if record.status is SendStatus.FAILED:
            assert calls == 0, f"{record.id} is reported not sent, but Sociocs was called"
        if record.status is SendStatus.SENT:
            assert record.message_id and calls == 1
        assert record.status is not SendStatus.FAILED or record.error == RESTARTED_BEFORE
    recovered = [r for r in rows if r.error == RESTARTED_BEFORE or r.status is SendStatus.UNKNOWN]
    for record in recovered:  # each recovered send is told in Slack, with its number
        slack.wait_for(
            lambda calls, n=record.recipient: [
                c
                for c in calls
                if c.method == "chat.postMessage"
                and n in str(c.args.get("text"))
                and "restarted" in str(c.args.get("text"))
            ],
            timeout=30,
        )


def inject_pending_fault(url: str) -> None:
    """Make the ledger refuse to mark any send pending: a fault between recording and calling Sociocs."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "CREATE TRIGGER injected_fault BEFORE UPDATE OF status ON sends WHEN NEW.status = 'pending' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        return
    base, _, options = url.partition("?options=-csearch_path%3D")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{options}"')
        conn.execute(
            "CREATE FUNCTION injected_fault() RETURNS trigger AS $$ BEGIN "
            "IF NEW.status = 'pending' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql"
        )
        conn.execute(
            "CREATE TRIGGER injected_fault BEFORE UPDATE ON sends FOR EACH ROW EXECUTE FUNCTION injected_fault()"
        )


def clear_fault(url: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("DROP TRIGGER injected_fault")
        return
    base, _, options = url.partition("?options=-csearch_path%3D")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{options}"')
        conn.execute("DROP TRIGGER injected_fault ON sends")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_ledger_failing_before_the_sociocs_call_sends_nothing_and_says_so(
    backend: str,
    make_bot,
    slack: SlackStandin,
    sociocs: SociocsStandin,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = database(backend, tmp_path, request)
    settings = {"DATABASE_URL": url, "LEDGER_RECOVERY_SECONDS": "600"}
    bot = make_bot(**settings)
    inject_pending_fault(url)
    user = f"U0FAULT{backend[:2].upper()}"
    numbers = [new_number() for _ in range(5)]
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda n: bot.command(f"{n} during a fault", user=user), numbers))
    assert all(a.status_code == 200 and a.text == "" for a in answers)  # recorded, so acknowledged

    for number in numbers:
        (reply,) = slack.wait_for(
            lambda calls, n=number: [
                c
                for c in calls
                if c.method == "chat.postMessage" and c.args.get("thread_ts") and n in str(c.args.get("text"))
            ]
        )
        assert "Not sent" in reply.args["text"] and "did not send it" in reply.args["text"]

    def all_failed() -> list[SendRecord] | None:
        failed = [r for r in ledger_rows(url, user) if r.status is SendStatus.FAILED]
        return failed if len(failed) == len(numbers) else None

    rows = wait_until(all_failed, what="the failures to be recorded")
    assert {r.error for r in rows} == {NOT_RECORDED}
    assert all(sociocs_count(sociocs, n) == 0 for n in numbers)

    # Once the ledger works again a restart has nothing to report, and Retry sends each exactly once.
    clear_fault(url)
    bot.stop(signal.SIGKILL)
    make_bot(**settings)
    assert all(r.status is SendStatus.FAILED for r in ledger_rows(url, user))
    assert not [
        c for c in slack.calls if "restarted" in str(c.args.get("text")) and any(n in str(c.args) for n in numbers)
    ]


def test_an_acknowledged_mention_survives_a_kill_right_after_the_answer(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/mention-ledger.db"
    settings = {"DATABASE_URL": url, "LEDGER_RECOVERY_SECONDS": "600", "SOCIOCS_TIMEOUT_SECONDS": "30"}
    bot = make_bot(**settings)
    number, user = new_number(), "U0MENTIONKILL"
    bot.command(f"{number} first message", user=user, channel="C0MENTIONKILL")
    parent = slack.wait_for(lambda calls: parents_for(calls, number))[0]
    slack.wait_for(lambda calls: replies_for(calls, number))
    sociocs.script(number, Reply(delay=20))
    answer = bot.event(
        {
            "type": "app_mention",
            "channel": "C0MENTIONKILL",
            "user": user,
            "text": "<@U0BOT> See you at 5",
            "ts": f"{time.time():.6f}",
            "thread_ts": parent.response["ts"],
        }
    )
    assert answer.status_code == 200
    bot.stop(signal.SIGKILL)  # at once: only what was recorded before the answer can survive

    texts = [r.text for r in ledger_rows(url, user)]
    assert "See you at 5" in texts
    make_bot(**settings)
    wait_until(
        lambda: all(r.status not in (SendStatus.QUEUED, SendStatus.PENDING) for r in ledger_rows(url, user)),
        what="the mention's send to be reported after the restart",
    )
