"""The ledger against real databases: SQLite files and a PostgreSQL database of this run's own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.ledger import Ledger, NewSend, RateLimited, Report, SendRecord, SendStatus, ThreadCustomer
from bot.ledger import _store as store
from bot.ledger._schema import SCHEMA_VERSION

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/nested/dir/ledger.db"  # the directory is created on demand
    return fresh_schema(str(request.getfixturevalue("pg_url")))


def fresh_schema(database_url: str) -> str:
    """A schema of this test's own in the run's database, selected through the connection's search_path."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{database_url}?options=-csearch_path%3D{schema}"


def run(test: Callable[..., Awaitable[T]], *args: Any) -> T:
    return asyncio.run(test(*args))


def entry(recipient: str = "+16175550100", user: str = "U1", text: str = "hi") -> NewSend:
    return NewSend(
        "T1", user, "C1", "twlo", "ck", recipient, "Ann", text, ("https://x.example/a.png",), None, "command"
    )


def test_a_send_is_recorded_before_and_after(url: str) -> None:
    async def body() -> tuple[SendRecord, SendRecord, list[Any], Any]:
        ledger = await Ledger.open(url)
        try:
            (send_id,) = await ledger.reserve([entry()], user_id="U1", limit_per_minute=None)
            queued = await ledger.get(send_id)
            await ledger.start_attempt(send_id, text="hi @ann", report=Report("C1", "1.1", "1.1"))
            await ledger.finish(send_id, SendStatus.SENT, message_id="SM1", error=None, http_status=None)
            done = await ledger.get(send_id)
            thread = await ledger.thread_for(provider="twlo", channel_key="ck", number="+16175550100")
            return queued, done, await ledger.status_events(send_id), thread  # type: ignore[return-value]
        finally:
            await ledger.close()

    queued, done, events, thread = run(body)
    assert queued.status is SendStatus.QUEUED and queued.attempts == 0 and queued.message_id is None
    assert queued.image_urls == ("https://x.example/a.png",) and queued.name == "Ann"
    assert done.status is SendStatus.SENT and done.message_id == "SM1" and done.attempts == 1
    assert done.text == "hi @ann" and done.thread_ts == "1.1" and done.updated_at >= done.created_at
    assert [status for _, status, _ in events] == ["sent"]
    assert thread == ("C1", "1.1")


def test_opening_twice_keeps_the_data(url: str) -> None:
    async def body() -> SendRecord | None:
        first = await Ledger.open(url)
        (send_id,) = await first.reserve([entry()], user_id="U1", limit_per_minute=None)
        await first.close()
        second = await Ledger.open(url)
        try:
            return await second.get(send_id)
        finally:
            await second.close()

    assert run(body) is not None


def test_rate_limit_counts_messages_per_user_per_minute(url: str) -> None:
    async def body() -> list[Any]:
        ledger = await Ledger.open(url)
        try:
            results: list[Any] = [
                await ledger.reserve([entry(), entry("+16175550101")], user_id="U1", limit_per_minute=3),
                await ledger.reserve([entry("+16175550102"), entry("+16175550103")], user_id="U1", limit_per_minute=3),
                await ledger.reserve([entry("+16175550104")], user_id="U1", limit_per_minute=3),
                await ledger.reserve([entry("+16175550105")], user_id="U2", limit_per_minute=3),
                await ledger.reserve([entry()] * 4, user_id="U3", limit_per_minute=3),
            ]
            return results
        finally:
            await ledger.close()

    two, refused, one, other_user, too_many = run(body)
    assert len(two) == 2 and len(one) == 1 and len(other_user) == 1
    assert isinstance(refused, RateLimited) and refused.limit == 3 and 1 <= refused.wait_seconds <= 61
    assert isinstance(too_many, RateLimited)


def test_concurrent_reservations_never_exceed_the_limit(url: str) -> None:
    async def body() -> list[Any]:
        ledger = await Ledger.open(url)
        try:
            return await asyncio.gather(
                *(ledger.reserve([entry(f"+1617555{i:04d}")], user_id="U9", limit_per_minute=5) for i in range(12))
            )
        finally:
            await ledger.close()

    results = run(body)
    assert sum(isinstance(r, list) for r in results) == 5


def test_a_retry_is_claimed_once_however_many_ask(url: str) -> None:
    async def body() -> tuple[list[Any], SendRecord | None, Any]:
        ledger = await Ledger.open(url)
        try:
            (send_id,) = await ledger.reserve([entry()], user_id="U1", limit_per_minute=None)
            await ledger.start_attempt(send_id)
            await ledger.finish(send_id, SendStatus.UNKNOWN, message_id=None, error="timeout", http_status=None)
            claims = await asyncio.gather(
                *(ledger.claim_retry(send_id, user_id=f"U{i}", limit_per_minute=None) for i in range(6))
            )
            after = await ledger.get(send_id)
            await ledger.finish(send_id, SendStatus.SENT, message_id="SM2", error=None, http_status=None)
            sent_again = await ledger.claim_retry(send_id, user_id="U1", limit_per_minute=None)
            return claims, after, sent_again
        finally:
            await ledger.close()

    claims, after, sent_again = run(body)
    won = [c for c in claims if isinstance(c, SendRecord)]
    assert len(won) == 1 and claims.count(None) == 5
    # Claimed, not yet attempted: `attempts` counts Sociocs calls, and the retry's call is still to come.
    assert after is not None and after.status is SendStatus.PENDING and after.attempts == 1
    assert after.retried_by == won[0].retried_by and after.error is None
    assert sent_again is None  # a sent message is never retried


def test_two_ledgers_on_one_database_share_claims_and_limits(pg_url: str) -> None:
    url = fresh_schema(pg_url)

    async def body() -> tuple[list[Any], list[Any]]:
        a, b = await Ledger.open(url), await Ledger.open(url)
        try:
            reservations = await asyncio.gather(
                *(
                    (a if i % 2 else b).reserve([entry(f"+1617556{i:04d}")], user_id="UPG", limit_per_minute=4)
                    for i in range(10)
                )
            )
            (send_id,) = await a.reserve([entry()], user_id="UOTHER", limit_per_minute=None)
            await a.finish(send_id, SendStatus.FAILED, message_id=None, error="x", http_status=500)
            claims = await asyncio.gather(
                *((a if i % 2 else b).claim_retry(send_id, user_id="UR", limit_per_minute=None) for i in range(8))
            )
            return reservations, claims
        finally:
            await a.close()
            await b.close()

    reservations, claims = run(body)
    assert sum(isinstance(r, list) for r in reservations) == 4
    assert sum(isinstance(c, SendRecord) for c in claims) == 1


def test_sends_of_a_dead_process_are_recovered_once(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> tuple[list[SendRecord], list[SendRecord], list[SendRecord]]:
        crashed = await Ledger.open(url)
        _queued, pending = await crashed.reserve([entry(), entry("+16175550109")], user_id="U1", limit_per_minute=None)
        await crashed.start_attempt(pending)
        # The crashed process never closes; it just stops beating. Age its heartbeat past the cutoff.
        from sqlalchemy import update

        from bot.ledger._schema import instances

        async with crashed._engine.begin() as conn:
            await conn.execute(
                update(instances)
                .where(instances.c.id == crashed.instance_id)
                .values(heartbeat_at=store.now() - store.timedelta(seconds=crashed.dead_after + 5))
            )
        first, second = await Ledger.open(url), await Ledger.open(url)
        try:
            a, b = await asyncio.gather(first.recover(), second.recover())
            again = await first.recover()
        finally:
            await first.close()
            await second.close()
            await crashed._engine.dispose()
        return [*a, *b], again, []

    recovered, again, _ = run(body)
    by_status = {r.status: r for r in recovered}
    assert len(recovered) == 2 and again == []
    assert by_status[SendStatus.FAILED].error == store.RESTARTED_BEFORE
    assert by_status[SendStatus.UNKNOWN].error == store.RESTARTED_WHILE


def test_a_live_process_keeps_its_sends(url: str) -> None:
    async def body() -> list[SendRecord]:
        live = await Ledger.open(url)
        other = await Ledger.open(url)
        try:
            (send_id,) = await live.reserve([entry()], user_id="U1", limit_per_minute=None)
            await live.start_attempt(send_id)
            return await other.recover()
        finally:
            await live.close()
            await other.close()

    assert run(body) == []


def test_history_is_newest_first_and_per_person(url: str) -> None:
    async def body() -> tuple[list[SendRecord], list[SendRecord]]:
        ledger = await Ledger.open(url)
        try:
            for i in range(12):
                await ledger.reserve([entry(f"+1617557{i:04d}", user="UH")], user_id="UH", limit_per_minute=None)
            await ledger.reserve([entry(user="UX")], user_id="UX", limit_per_minute=None)
            return await ledger.history("UH"), await ledger.history("UNOBODY")
        finally:
            await ledger.close()

    mine, nobody = run(body)
    assert len(mine) == 10 and nobody == []
    assert mine[0].recipient == "+16175570011" and all(r.user_id == "UH" for r in mine)


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        run(Ledger.open, "mysql://root@localhost/test")


def test_a_version_1_ledger_is_upgraded_at_start(url: str) -> None:
    """A ledger written before delivery status (v2) and instance identities (v3) gains their columns, and
    keeps its rows."""

    async def body() -> tuple[int, SendRecord | None]:
        from sqlalchemy import text as sql

        first = await Ledger.open(url)
        (send_id,) = await first.reserve([entry()], user_id="U1", limit_per_minute=None)
        async with first._engine.begin() as conn:  # make it look like version 1
            await conn.execute(sql("ALTER TABLE sends DROP COLUMN delivery_status"))
            await conn.execute(sql("ALTER TABLE sends DROP COLUMN delivery_error"))
            await conn.execute(sql("ALTER TABLE instances DROP COLUMN host"))  # version 3
            await conn.execute(sql("ALTER TABLE instances DROP COLUMN pid"))
            await conn.execute(sql("ALTER TABLE incoming_messages ADD COLUMN channel_id VARCHAR(32)"))  # until v3
            await conn.execute(sql("ALTER TABLE incoming_messages ADD COLUMN thread_ts VARCHAR(32)"))
            await conn.execute(sql("UPDATE schema_version SET version = 1"))
            if "postgresql" in url:  # version 1 had a shorter status column
                await conn.execute(sql("ALTER TABLE send_events ALTER COLUMN status TYPE VARCHAR(16)"))
        await first.close()
        upgraded = await Ledger.open(url)
        try:
            async with upgraded._engine.connect() as conn:
                version = (await conn.execute(sql("SELECT MAX(version) FROM schema_version"))).scalar_one()
            await upgraded.start_attempt(send_id)
            await upgraded.finish(send_id, SendStatus.SENT, message_id="SMV1", error=None, http_status=None)
            await upgraded.record_delivery("SMV1", "delivered", error_code=None, error_message=None)
            claimed = await upgraded.claim_deliveries("SMV1")
            return version, claimed[0] if claimed else None
        finally:
            await upgraded.close()

    version, record = run(body)
    assert version == SCHEMA_VERSION
    assert record is not None and record.delivery_status == "delivered" and record.recipient == "+16175550100"


def test_delivery_updates_wait_for_their_send_and_never_go_backwards(url: str) -> None:
    async def body() -> tuple[Any, ...]:
        ledger = await Ledger.open(url)
        try:
            early = await ledger.record_delivery("SMD1", "delivered", error_code=None, error_message=None)
            duplicate = await ledger.record_delivery("SMD1", "delivered", error_code=None, error_message=None)
            before_send = await ledger.claim_deliveries("SMD1")  # the send has no message id yet
            (send_id,) = await ledger.reserve([entry()], user_id="U1", limit_per_minute=None)
            await ledger.start_attempt(send_id)
            await ledger.finish(send_id, SendStatus.SENT, message_id="SMD1", error=None, http_status=None)
            first = await ledger.claim_deliveries("SMD1")
            await ledger.record_delivery("SMD1", "sent", error_code=None, error_message=None)  # late and lower
            second = await ledger.claim_deliveries("SMD1")
            nothing_left = await ledger.claim_deliveries("SMD1")
            # A failure after delivered is a regression: recorded, never shown, nothing to retry (issue 10/8c).
            await ledger.record_delivery("SMD1", "undelivered", error_code="30008", error_message="Late")
            regression = await ledger.claim_deliveries("SMD1")
            no_retry = await ledger.claim_retry(send_id, user_id="U2", limit_per_minute=None)
            (other,) = await ledger.reserve([entry()], user_id="U1", limit_per_minute=None)
            await ledger.finish(other, SendStatus.SENT, message_id="SMD2", error=None, http_status=None)
            await ledger.record_delivery("SMD2", "sent", error_code=None, error_message=None)
            await ledger.record_delivery("SMD2", "undelivered", error_code="30003", error_message="Unreachable")
            third = await ledger.claim_deliveries("SMD2")
            events = await ledger.status_events(send_id)
            retry = await ledger.claim_retry(other, user_id="U2", limit_per_minute=None)
            assert regression is not None and regression[0].delivery_status == "delivered" and no_retry is None
            return early, duplicate, before_send, first, second, nothing_left, third, events, retry
        finally:
            await ledger.close()

    early, duplicate, before_send, first, second, nothing_left, third, events, retry = run(body)
    assert early is True and duplicate is False and before_send is None
    assert first[0].delivery_status == "delivered" and first[1] == [("delivered", None, None)]
    assert second[0].delivery_status == "delivered" and second[1] == [("sent", None, None)]
    assert nothing_left is None
    assert third[0].delivery_status == "undelivered" and third[0].delivery_error == "[30003] Unreachable"
    assert [s for _, s, _ in events] == ["sent", "delivery:delivered", "delivery:sent", "delivery:undelivered"]
    assert third[1] == [("sent", None, None), ("undelivered", "30003", "Unreachable")]
    assert isinstance(retry, SendRecord)  # an undelivered message may be retried


def test_conversations_follow_the_latest_thread_and_incoming_ids_count_once(url: str) -> None:
    async def body() -> tuple[Any, ...]:
        ledger = await Ledger.open(url)
        try:
            args = {"provider": "twlo", "channel_key": "ck", "number": "+16175550100"}
            await ledger.remember_thread(**args, channel_id="C1", thread_ts="1.1")
            await ledger.remember_thread(**args, channel_id="C2", thread_ts="2.2")
            latest = await ledger.thread_for(**args)
            bridged = await ledger.thread_customers("C2", "2.2")
            unknown = await ledger.thread_customers("C9", "9.9")
            firsts = [await ledger.first_incoming("IN1", "+16175550100") for _ in range(2)]
            return latest, bridged, unknown, firsts
        finally:
            await ledger.close()

    latest, bridged, unknown, firsts = run(body)
    assert latest == ("C2", "2.2") and bridged == [ThreadCustomer("twlo", "ck", "+16175550100")] and unknown == []
    assert firsts == [True, False]


def test_what_a_reply_shows_is_recorded_and_a_gone_process_leaves_it_to_another(url: str) -> None:
    """The slack_replies table: recipient order, what was shown, and the hand-over after a crash."""

    async def body() -> tuple[Any, ...]:
        # Closing removes a process's heartbeat at once, so `dead_after` needs no waiting here; it is long
        # enough that a busy machine never makes the first process look gone to itself mid-test.
        first = await Ledger.open(url, dead_after=5.0)
        ids = await first.reserve([entry(f"+1617555010{i}") for i in range(3)], user_id="U1", limit_per_minute=None)
        await first.open_reply("C1", "10.1", "10.1", list(reversed(ids)))
        await first.open_reply("C1", "10.1", "10.1", ids)  # a second note of the same reply changes nothing
        order = [r.id for r in await first.sends_in_order((await first.reply_state("C1", "10.1")).send_ids)]  # type: ignore[union-attr]
        await first.mark_shown("C1", "10.1", reply_ts="10.2", shown={ids[0]: "sent"}, complete=False)
        mine = await first.unshown_replies()  # its own process is alive: nothing to take over
        await first.statuses_due("C1", "10.1", True)  # a summary edit due when the process goes
        mine += await first.unshown_statuses()
        await first.close()  # gone (as after a crash, once its heartbeat is stale)
        second = await Ledger.open(url, dead_after=5.0)
        taken = await second.unshown_replies()
        again = await second.unshown_replies()
        statuses = await second.unshown_statuses()
        again += await second.unshown_statuses()
        await second.statuses_due("C1", "10.1", False)
        again += await second.unshown_statuses()
        await second.mark_shown("C1", "10.1", reply_ts="10.2", shown={i: "sent" for i in ids}, complete=True)
        state = await second.reply_state("C1", "10.1")
        live = await second.live_instances()
        await second.close()
        return ids, order, mine, taken, again, state, live, statuses

    ids, order, mine, taken, again, state, live, statuses = run(body)
    assert statuses == [("C1", "10.1")]
    assert order == list(reversed(ids))  # the order first noted, whatever order the rows are in
    assert mine == [] and again == []
    assert [(t.reply_ts, t.shown) for t in taken] == [("10.2", {ids[0]: "sent"})]
    assert state is not None and state.complete and state.shown == {i: "sent" for i in ids}
    assert live == 1


def test_many_marks_in_one_transaction_each_say_whether_the_send_is_this_processes(url: str) -> None:
    """A command's sends are marked pending together (group commit); their rows are read back in
    chunks, one statement per chunk (#18): each answer is still its own send's."""

    async def body() -> tuple[list[str], list[bool], bool, Any]:
        ledger = await Ledger.open(url)
        try:
            entries = [entry(f"+1617555{i:04d}") for i in range(150)]
            ids = await ledger.reserve(entries, user_id="U1", limit_per_minute=None)
            assert isinstance(ids, list)
            await ledger.finish(ids[70], SendStatus.FAILED, message_id=None, error="blocked", http_status=None)
            report = Report("C1", "1.1", "1.1")
            started = await asyncio.gather(*(ledger.start_attempt(i, report=report) for i in ids))
            again = await ledger.start_attempt(ids[149])  # pending and ours: an automatic retry may go
            thread = await ledger.thread_for(provider="twlo", channel_key="ck", number="+16175550149")
            return ids, list(started), again, thread
        finally:
            await ledger.close()

    _, started, again, thread = run(body)
    assert started == [i != 70 for i in range(150)] and again
    assert thread == ("C1", "1.1")  # the number's latest conversation, as for a send marked alone


def test_the_ledger_says_whether_it_can_be_read(url: str, tmp_path: Path) -> None:
    """Readiness reads through the reader's thread: its error is the answer when the ledger cannot be read."""
    from sqlalchemy import create_engine

    async def body() -> tuple[bool, str]:
        ledger = await Ledger.open(url)
        try:
            await ledger.readable()
            ledger._sync_reads._engine = create_engine(f"sqlite:///{tmp_path}/missing/dir/ledger.db")
            try:
                await ledger.readable()
            except Exception as exc:
                return True, type(exc).__name__
            return True, "no error"
        finally:
            await ledger.close()

    assert run(body) == (True, "OperationalError")


def test_a_serving_process_keeps_its_heartbeat_fresh(url: str) -> None:
    """The heartbeat (a prepared update, every `dead_after / 4`) keeps this process alive to the others."""

    async def go() -> None:
        ledger = await Ledger.open(url, dead_after=0.4)
        try:
            from sqlalchemy import select

            from bot.ledger._schema import instances

            async def beat() -> Any:
                async with ledger._engine.connect() as conn:
                    query = select(instances.c.heartbeat_at).where(instances.c.id == ledger.instance_id)
                    return (await conn.execute(query)).scalar_one()

            first = await beat()
            ledger.start_heartbeat()
            await asyncio.sleep(0.35)
            assert await beat() > first
            assert await ledger.live_instances() == 1
        finally:
            await ledger.close()

    run(go)


def test_a_live_replica_sharing_the_host_name_and_pid_is_not_taken_for_gone(pg_url: str) -> None:
    """Containers on the host's network share its name and each runs the bot as pid 1: a replica
    starting beside another must not take that live one for its own gone predecessor (it recovered its
    sends as they were sent). Within one PID namespace, a pid that no longer runs, or is ours, is gone.
    (PostgreSQL: on SQLite a serving process holds the file's lock, so every other one is gone.)"""
    url = fresh_schema(pg_url)

    async def go() -> None:
        from sqlalchemy import select, update

        from bot.ledger._schema import instances

        sibling, predecessor = await Ledger.open(url), await Ledger.open(url)
        name, _, namespace = store._HOST.partition(" ")
        assert namespace.startswith("pid:[")  # Linux: the PID namespace is part of the host
        async with sibling._engine.begin() as conn:
            await conn.execute(
                update(instances)
                .where(instances.c.id == sibling.instance_id)
                .values(host=f"{name} pid:[1]", pid=os.getpid())  # another namespace, the same pid
            )
            await conn.execute(
                update(instances).where(instances.c.id == predecessor.instance_id).values(pid=os.getpid())
            )
        starting = await Ledger.open(url, serving=True)
        try:
            async with starting._engine.connect() as conn:
                left = set((await conn.execute(select(instances.c.id))).scalars())
            assert sibling.instance_id in left
            assert predecessor.instance_id not in left  # same host and namespace, our pid: gone
        finally:
            for ledger in (sibling, predecessor, starting):
                await ledger.close()

    run(go)
