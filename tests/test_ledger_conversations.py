"""Conversation state in the ledger on SQLite and PostgreSQL: start, customer messages (reopen, waiting
since, one notification per window), one assignee among concurrent claims, who may close."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.ledger import Conversation, Ledger, Report, SendStatus
from tests.test_ledger import entry, run, url  # noqa: F401  (the url fixture: SQLite and PostgreSQL)

NUMBER = "+16175550100"


async def start(ledger: Ledger, **changes: Any) -> Conversation:
    """Ann's conversation in C1, or another with `changes` to its fields."""
    fields: dict[str, Any] = {
        "conversation_id": "c1",
        "provider": "twlo",
        "channel_key": "ck",
        "number": NUMBER,
        "name": "Ann",
        "channel_id": "C1",
        "thread_ts": "1.1",
        "head_ts": "1.1",
        "head": "{}",
        "previous": None,
        "text": "hello",
    }
    return await ledger.start_conversation(**{**fields, **changes})


def test_state_changes_are_claimed_once(url: str) -> None:  # noqa: F811
    async def body() -> None:
        ledger, other = await Ledger.open(url), await Ledger.open(url)  # two replicas
        try:
            first = await start(ledger)
            assert first.open and first.waiting and first.last_reply_at is None
            window = timedelta(minutes=5)
            assert await ledger.customer_wrote("c1", text="again", name=None, renotify_after=window) == (False, False)

            wins = await asyncio.gather(
                *(db.assign_conversation("c1", user) for db, user in [(ledger, "U1"), (other, "U2")] * 5)
            )
            assert sum(wins) == 1
            assignee = (await other.conversation_by_id("c1")).assignee  # type: ignore[union-attr]
            stranger = "U2" if assignee == "U1" else "U1"
            assert not await ledger.close_conversation("c1", stranger, admin=False)
            assert await other.close_conversation("c1", stranger, admin=True)
            assert not await ledger.close_conversation("c1", str(assignee), admin=False)  # closed already

            reopened, notify = await other.customer_wrote(
                "c1", text="back", name="Ann Lee", renotify_after=timedelta(0)
            )
            assert reopened and notify
            now = await ledger.conversation("twlo", "ck", NUMBER)
            assert now is not None and now.open and now.assignee == assignee and now.name == "Ann Lee"

            # A reply (a sent message to the number on that channel) ends the wait; the next message starts one.
            waited_since = now.waiting_since
            (send_id,) = await ledger.reserve([entry(NUMBER)], user_id="U1", limit_per_minute=None)
            await ledger.start_attempt(send_id, text="hi", report=Report("C1", "1.1", "1.1"))
            await ledger.finish(send_id, SendStatus.SENT, message_id="SM1", error=None, http_status=None)
            answered = await ledger.conversation_by_id("c1")
            assert answered is not None and not answered.waiting
            await asyncio.sleep(0.01)
            await ledger.customer_wrote("c1", text="thanks", name=None, renotify_after=window)
            waiting = await ledger.conversation_by_id("c1")
            assert waiting is not None and waiting.waiting and waiting.waiting_since > waited_since  # type: ignore[operator]
            assert [c.id for c in await other.open_conversations()] == ["c1"]
        finally:
            await ledger.close()
            await other.close()

    run(body)


def test_a_message_that_waits_for_no_answer_ends_the_wait_until_the_next_one(url: str) -> None:  # noqa: F811
    async def body() -> None:
        ledger = await Ledger.open(url)
        try:
            window = timedelta(minutes=5)
            await start(ledger)
            await ledger.customer_wrote("c1", text="STOP", name=None, renotify_after=window, waits=False)
            stopped = await ledger.conversation_by_id("c1")
            assert stopped is not None and stopped.open and not stopped.waiting and stopped.waiting_since is None
            assert stopped.last_customer_text == "STOP"  # still the customer's latest message
            await asyncio.sleep(0.01)
            await ledger.customer_wrote("c1", text="one more thing", name=None, renotify_after=window)
            again = await ledger.conversation_by_id("c1")
            assert again is not None and again.waiting and again.waiting_since is not None
            assert again.waiting_since > stopped.last_customer_at

            # A conversation may start with one: open, waiting for nothing.
            second = await start(
                ledger,
                conversation_id="c2",
                number="+16175550101",
                name=None,
                thread_ts="2.2",
                head_ts="2.2",
                text="QUIT",
                waits=False,
            )
            assert second.open and not second.waiting and second.waiting_since is None
            assert [c.id for c in await ledger.open_conversations()] == ["c1", "c2"]  # the waiting first
        finally:
            await ledger.close()

    run(body)
