"""Which customers a Slack thread belongs to, and mentions waiting for a choice: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.ledger import Ledger, Report, ThreadCustomer
from tests.test_ledger import entry, fresh_schema, run


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return fresh_schema(str(request.getfixturevalue("pg_url")))


A, B, C = "+16175550101", "+16175550102", "+16175550103"


def test_a_thread_gains_every_customer_sent_to_or_heard_from_in_it(url: str) -> None:
    async def body() -> tuple[Any, ...]:
        ledger = await Ledger.open(url)
        try:
            # A two-recipient send reported in thread 1.1 of C1.
            ids = await ledger.reserve([entry(A), entry(B)], user_id="U1", limit_per_minute=None)
            assert isinstance(ids, list)
            for send_id in ids:
                await ledger.start_attempt(send_id, text=None, name=None, report=Report("C1", "1.1", "1.1"))
                await ledger.start_attempt(send_id, text=None, name=None, report=Report("C1", "1.1", "1.1"))
            # A customer message from C starts thread 2.2; A answers there later, with a name.
            await ledger.remember_thread(provider="twlo", channel_key="ck", number=C, channel_id="C1", thread_ts="2.2")
            await ledger.join_thread("C1", "2.2", ThreadCustomer("twlo", "ck", A, "Ann Lee"))
            await ledger.join_thread("C1", "2.2", ThreadCustomer("twlo", "ck", A))  # a name is never forgotten
            together = await asyncio.gather(
                *(ledger.join_thread("C1", "3.3", ThreadCustomer("twlo", "ck", C)) for _ in range(5))
            )
            return (
                await ledger.thread_customers("C1", "1.1"),
                await ledger.thread_customers("C1", "2.2"),
                await ledger.thread_customers("C1", "3.3"),
                await ledger.thread_customers("C9", "1.1"),
                together,
                await ledger.thread_for(provider="twlo", channel_key="ck", number=A),
            )
        finally:
            await ledger.close()

    sent, heard, raced, unknown, _, latest = run(body)
    assert sorted(sent, key=lambda c: c.number) == [
        ThreadCustomer("twlo", "ck", A, "Ann"),  # the name the send used
        ThreadCustomer("twlo", "ck", B, "Ann"),
    ]
    assert set(heard) == {ThreadCustomer("twlo", "ck", C, None), ThreadCustomer("twlo", "ck", A, "Ann Lee")}
    assert raced == [ThreadCustomer("twlo", "ck", C, None)]
    assert unknown == []
    assert latest == ("C1", "1.1")  # joining a thread does not move the number's latest conversation


def test_a_pending_mention_keeps_its_text_and_is_decided_once_by_its_author(url: str) -> None:
    text = "Yes, online too 😀 & <b>" + "x" * 3000

    async def body() -> tuple[Any, ...]:
        ledger = await Ledger.open(url)
        try:
            customers = [ThreadCustomer("twlo", "ck", A, "Ann"), ThreadCustomer("twlowa", "ck2", B)]
            mention_id = await ledger.hold_mention(
                team_id="T1", user_id="U1", channel_id="C1", thread_ts="1.1", text=text, customers=customers
            )
            held = await ledger.pending_mention(mention_id)
            stranger = await ledger.decide_mention(mention_id, "U2", "sent")
            presses = await asyncio.gather(*(ledger.decide_mention(mention_id, "U1", "sent") for _ in range(5)))
            await ledger.undecide_mention(mention_id)
            again = await ledger.decide_mention(mention_id, "U1", "cancelled")
            after = await ledger.decide_mention(mention_id, "U1", "sent")
            return held, stranger, presses, again, after, await ledger.pending_mention(mention_id)
        finally:
            await ledger.close()

    held, stranger, presses, again, after, final = run(body)
    assert held.text == text and held.user_id == "U1" and held.decision is None
    assert held.customers == (ThreadCustomer("twlo", "ck", A, "Ann"), ThreadCustomer("twlowa", "ck2", B, None))
    assert (held.channel_id, held.thread_ts, held.team_id) == ("C1", "1.1", "T1")
    assert stranger is False
    assert sorted(presses) == [False, False, False, False, True]
    assert again is True and after is False and final.decision == "cancelled"


def test_threads_bridged_before_the_table_existed_still_have_their_customer(url: str) -> None:
    async def body() -> list[ThreadCustomer]:
        from bot.ledger._schema import threads
        from bot.ledger._store import now

        ledger = await Ledger.open(url)
        try:
            async with ledger._engine.begin() as conn:  # as an older bot left it: no thread_customers row
                await conn.execute(
                    threads.insert().values(
                        provider="twlo", channel_key="ck", number=C, channel_id="C1", thread_ts="4.4", updated_at=now()
                    )
                )
            return await ledger.thread_customers("C1", "4.4")
        finally:
            await ledger.close()

    assert run(body) == [ThreadCustomer("twlo", "ck", C, None)]
