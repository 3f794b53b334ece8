"""The ledger's prepared statements (bot/ledger/_prepared.py) store and read exactly what SQLAlchemy
does, and fail the way SQLAlchemy's statements fail (wrapped, parameters hidden)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.ledger import Ledger, Report, SendStatus
from bot.ledger._prepared import arity, execute_many, fetch, in_values
from bot.ledger._replies import replies
from bot.ledger._schema import events, seen_requests, sends
from tests.test_ledger import entry, run, url  # noqa: F401  (the fixture)

SECRET = "+16175550199-secret-text"


def test_rows_written_either_way_read_back_the_same_either_way(url: str) -> None:  # noqa: F811
    async def go() -> None:
        ledger = await Ledger.open(url)
        try:
            stamp = datetime(2026, 1, 2, 3, 4, 5, 678901)
            hot = ledger._hot
            # Written through the prepared path, read through SQLAlchemy.
            fast = {"send_id": "fast", "at": stamp, "user_id": "U1", "kind": "attempt", "status": "queued"}
            slow = {**fast, "send_id": "slow"}
            await ledger._writes.run(lambda conn, _: execute_many(conn, hot.insert_attempts, [fast]) or [None], None)
            async with ledger._engine.begin() as conn:
                await conn.execute(insert(events), [slow])
                got = (await conn.execute(select(events.c.send_id, events.c.at).order_by(events.c.send_id))).all()
            assert [tuple(r) for r in got] == [("fast", stamp), ("slow", stamp)]
            # Both read back the same through the prepared path.
            since = datetime(2026, 1, 1)
            rows = await ledger._sync_reads.run(
                lambda conn: fetch(conn, hot.recent_attempts, {"user_id": "U1", "since": since})
            )
            assert [r.at for r in rows] == [stamp, stamp]
            assert all(type(r.at) is datetime for r in rows)
        finally:
            await ledger.close()

    run(go)


def test_a_send_reads_the_same_through_both_paths(url: str) -> None:  # noqa: F811
    async def go() -> None:
        ledger = await Ledger.open(url)
        try:
            ids = await ledger.reserve([entry(), entry("+16175550101")], user_id="U1", limit_per_minute=5)
            assert isinstance(ids, list)
            await ledger.note_schedule(ids[:1], datetime.fromisoformat("2030-01-01T10:00:00+00:00"), "Europe/Paris")
            assert await ledger.start_attempt(ids[1], report=Report("C1", "1.0", "1.0"))
            await ledger.finish(ids[1], SendStatus.SENT, message_id="m1", error=None, http_status=200)
            fast = await ledger.sends_in_order([*reversed(ids), "missing"])
            slow = await ledger._sends_in_order_slowly([*reversed(ids), "missing"])
            assert fast == slow
            assert [r.id for r in fast] == list(reversed(ids))
            assert fast[1].schedule is not None and fast[0].schedule is None
            assert fast == [await ledger.get(i) if i != ids[0] else fast[1] for i in reversed(ids)]
            await ledger.open_reply("C1", "1.0", "1.0", ids)
            await ledger.mark_shown("C1", "1.0", reply_ts="1.1", shown={ids[1]: "sent"}, complete=False)
            state = await ledger.reply_state("C1", "1.0")
            async with ledger._engine.connect() as conn:
                row = (await conn.execute(select(replies))).one()
            assert state is not None and state.shown == {ids[1]: "sent"} and state.reply_ts == "1.1"
            assert state.send_ids == tuple(ids) and not state.complete
            assert isinstance(row.updated_at, datetime)
        finally:
            await ledger.close()

    run(go)


def test_an_in_list_takes_the_next_power_of_two_ids_repeating_the_last() -> None:
    assert [arity(n) for n in (1, 2, 3, 4, 5, 63, 64, 65, 100)] == [1, 2, 4, 4, 8, 64, 64, 128, 128]
    assert in_values(["a"]) == {"i0": "a"}
    assert in_values(["a", "b", "c"]) == {"i0": "a", "i1": "b", "i2": "c", "i3": "c"}


def test_sends_of_every_count_read_alike_through_a_few_prepared_variants(url: str) -> None:  # noqa: F811
    """Replies and group commits come in every size: each size must read right, and a process must
    not compile one statement per size (each compile costs milliseconds, #18)."""

    async def go() -> None:
        ledger = await Ledger.open(url)
        try:
            numbers = [f"+1617555{n:04d}" for n in range(100)]
            ids = await ledger.reserve([entry(n) for n in numbers], user_id="U1", limit_per_minute=None)
            assert isinstance(ids, list)
            # 70 attempts at once: group commits of every size, their pending marks read in chunks.
            started = await asyncio.gather(
                *(ledger.start_attempt(i, report=Report("C1", "1.0", "1.0")) for i in ids[:70])
            )
            assert all(started)
            for count in (1, 2, 3, 5, 17, 64, 65, 100):
                asked = [*reversed(ids[:count]), "missing"]
                fast = await ledger.sends_in_order(asked)
                assert fast == await ledger._sends_in_order_slowly(asked)
                assert [r.id for r in fast] == asked[:-1]
            assert sorted(ledger._reply_sql._in_order) == [2, 4, 8, 32, 128]
            assert set(ledger._hot._started_in) <= {1, 2, 4, 8, 16, 32, 64}
            assert [r.status for r in await ledger.sends_in_order(ids[:70])] == [SendStatus.PENDING] * 70
        finally:
            await ledger.close()

    run(go)


def test_a_failing_prepared_statement_fails_as_sqlalchemy_would_without_its_values(
    url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def go() -> None:
        ledger = await Ledger.open(url)
        try:
            hot = ledger._hot
            row: dict[str, Any] = {"key": SECRET, "at": datetime(2026, 1, 1)}
            async with ledger._engine.begin() as conn:
                await conn.execute(insert(seen_requests).values(**row))
            plain = hot.insert_sends  # a duplicate send id: the database refuses it
            send = {c: None for c in ("team_id", "user_id", "channel_id", "name")} | {
                "id": "dup",
                "created_at": datetime(2026, 1, 1),
                "updated_at": datetime(2026, 1, 1),
                "provider": "twlo",
                "channel_key": "ck",
                "recipient": SECRET[:12],
                "text": SECRET,
                "media": "{}",
                "status": "queued",
                "attempts": 0,
                "via": "command",
                "owner": "o",
            }
            with pytest.raises(IntegrityError) as raised:
                await ledger._writes.run(lambda conn, _: execute_many(conn, plain, [send, send]) or [None], None)
            assert SECRET not in str(raised.value) and SECRET[:12] not in str(raised.value)
            assert "parameters hidden" in str(raised.value)
            async with ledger._engine.connect() as conn:
                assert (await conn.execute(select(sends.c.id))).all() == []  # rolled back whole
            assert await ledger.first_request("another")  # the writer goes on
        finally:
            await ledger.close()

    run(go)


def test_a_datetime_column_formats_each_new_datetime_and_reuses_only_the_very_same_one() -> None:
    from datetime import timedelta, timezone

    from sqlalchemy.dialects import sqlite

    from bot.ledger._hot import HotStatements

    prepared = HotStatements(sqlite.dialect()).insert_attempts
    stamp = datetime(2026, 1, 2, 3, 4, 5, 678901)
    row = {"send_id": "a", "at": stamp, "user_id": "U1", "kind": "attempt", "status": "queued"}
    first = prepared.parameters(row)
    assert prepared.parameters(row) == first
    later = {**row, "at": stamp + timedelta(seconds=1)}
    assert prepared.parameters(later) != first
    # Equal instants in other zones are other strings in SQLite: never answered from the last one.
    utc = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    east = utc.astimezone(timezone(timedelta(hours=5)))
    assert utc == east
    assert prepared.parameters({**row, "at": utc}) != prepared.parameters({**row, "at": east})


def test_reads_asked_for_together_share_one_hand_off_and_fail_alone(url: str) -> None:  # noqa: F811
    """Concurrent reads go to the reader's thread together (its hand-off is most of a read's cost,
    #18); one that fails fails alone, also on PostgreSQL, where a failed statement spoils its
    transaction; and each read sees what was committed before it was asked for."""

    async def go() -> None:
        ledger = await Ledger.open(url)
        try:
            reads = ledger._sync_reads
            (first,) = await ledger.reserve([entry()], user_id="U1", limit_per_minute=None)  # type: ignore[misc]
            before = reads.batches

            def broken(conn: Any) -> Any:
                return conn.exec_driver_sql("SELECT no_such_column FROM sends").all()

            answers = await asyncio.gather(
                *(ledger.sends_in_order([first]) for _ in range(10)),
                reads.run(broken),
                *(ledger.sends_in_order([first]) for _ in range(10)),
                return_exceptions=True,
            )
            assert isinstance(answers[10], Exception)
            assert all(isinstance(a, list) and [r.id for r in a] == [first] for a in answers[:10] + answers[11:])
            assert reads.batches - before <= 2  # the first read alone, then the other twenty together
            # A read asked for after a write committed sees it, whatever batch it joins.
            for n in range(5):
                (later,) = await ledger.reserve([entry(f"+1617555020{n}")], user_id="U1", limit_per_minute=None)  # type: ignore[misc]
                seen = await asyncio.gather(ledger.sends_in_order([later]), ledger.sends_in_order([first, later]))
                assert [r.id for r in seen[0]] == [later] and [r.id for r in seen[1]] == [first, later]
        finally:
            await ledger.close()

    run(go)
