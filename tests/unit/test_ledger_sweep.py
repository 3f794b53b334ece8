"""The recovery sweep every process runs also deletes held mentions no press can use any more (a day
old) and the ids of customer messages far past any redelivery (a week old), so `pending_mentions` and
`incoming_messages` do not grow forever; younger rows are kept and still work: a held mention is sent
when chosen, a duplicate webhook is dropped. A delete that fails is logged and the others still run."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.contact_choices import ContactChoices
from bot.conversations import INCOMING_KEPT, MENTIONS_KEPT
from bot.ledger import _store as store
from bot.ledger._schema import incoming, pending_mentions
from bot.slack.recovery import sweep_forever
from standins import SlackCall
from tests.conftest import new_channel, new_number, parents_for, replies_for
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_conversations_inbox import message

pytestmark = pytest.mark.anyio


async def two_customer_thread(app: AppUnderTest) -> tuple[str, str, str, str]:
    """A send to A and B reported in one thread: (A, B, channel, thread)."""
    a, b, channel = new_number(), new_number(), new_channel()
    acked(await app.command(f"{a}, {b} Class moves online tomorrow", channel=channel))
    await app.settled()
    assert replies_for(app.slack.calls, a) and replies_for(app.slack.calls, b)
    (parent,) = parents_for(app.slack.calls, a)
    return a, b, channel, str(parent.response["ts"])


async def held_mention(app: AppUnderTest, channel: str, thread: str, text: str) -> tuple[str, SlackCall]:
    """A mention in the thread: its held id and the private choice offered for it."""
    before = len(app.slack.calls_to("chat.postEphemeral"))
    event = {
        "type": "app_mention",
        "user": "U0SENDER",
        "channel": channel,
        "thread_ts": thread,
        "ts": f"{time.time():.6f}",
        "text": f"<@U0BOT> {text}",
        "team": "T0STANDIN",
    }
    assert (await app.event(event)).status == 200
    await app.settled()
    (whisper,) = app.slack.calls_to("chat.postEphemeral")[before:]
    button = next(e for b in whisper.args["blocks"] if b["type"] == "actions" for e in b["elements"])
    return str(json.loads(button["value"])["m"]), whisper


async def press(app: AppUnderTest, whisper: SlackCall, index: int, name: str) -> list[str]:
    """Press the `index`-th customer's button of the choice; what the presser was told."""
    block = next(b for b in whisper.args["blocks"] if b["type"] == "actions")
    payload = {
        "type": "block_actions",
        "user": {"id": "U0SENDER"},
        "team": {"id": "T0STANDIN"},
        "container": {"type": "message", "is_ephemeral": True},
        "response_url": app.slack.response_url(name),
        "actions": [{**block["elements"][index], "block_id": block["block_id"]}],
    }
    acked(await app.interaction(payload))
    await app.settled()
    return [str(c.args.get("text")) for c in app.private(name)]


async def left(app: AppUnderTest) -> tuple[set[str], set[str]]:
    """The held mentions' ids and the handled messages' ids still in the ledger."""
    async with app.bot.ledger._engine.connect() as conn:
        mentions = set((await conn.execute(select(pending_mentions.c.id))).scalars())
        ids = set((await conn.execute(select(incoming.c.message_id))).scalars())
    return mentions, ids


async def sweep_until(app: AppUnderTest, gone: str) -> None:
    """Run the sweep until the held mention `gone` is deleted (it deletes at once when it starts)."""
    sweeping = asyncio.create_task(sweep_forever(app.bot))
    try:
        for _ in range(100):
            if gone not in (await left(app))[0]:
                break
            await asyncio.sleep(0.05)
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)


async def stale_and_young(app: AppUnderTest) -> dict[str, Any]:
    """A stale and a young held mention in one thread, an old and a young handled message."""
    a, b, channel, thread = await two_customer_thread(app)
    stale, stale_choice = await held_mention(app, channel, thread, "Held too long")
    young, young_choice = await held_mention(app, channel, thread, "See you at 5")
    old_msg, young_msg = message(new_number(), "old"), message(new_number(), "young")
    for msg in (old_msg, young_msg):
        assert await app.bot.conversations.receive(msg)
    async with app.bot.ledger._engine.begin() as conn:
        aged = store.now() - MENTIONS_KEPT - timedelta(minutes=5)
        await conn.execute(update(pending_mentions).where(pending_mentions.c.id == stale).values(created_at=aged))
        old_at = store.now() - INCOMING_KEPT - timedelta(hours=1)
        await conn.execute(update(incoming).where(incoming.c.message_id == old_msg.message_id).values(at=old_at))
    return {
        "a": a,
        "b": b,
        "stale": stale,
        "stale_choice": stale_choice,
        "young": young,
        "young_choice": young_choice,
        "old_msg": old_msg,
        "young_msg": young_msg,
    }


async def test_the_recovery_sweep_deletes_stale_mentions_and_old_message_ids_and_keeps_young_ones(make_app: Any):
    app = await make_app()
    made = await stale_and_young(app)
    await sweep_until(app, made["stale"])
    mentions, ids = await left(app)
    assert made["young"] in mentions and made["stale"] not in mentions
    assert made["young_msg"].message_id in ids and made["old_msg"].message_id not in ids
    # An old button pressed after all: there is no record of it, and nothing is sent.
    assert await press(app, made["stale_choice"], 0, "sweep-stale-press") == [
        "I have no record of that message, so nothing was sent."
    ]
    # The young mention is still sent to the customer chosen, and a young duplicate is still dropped.
    await press(app, made["young_choice"], 1, "sweep-young-press")
    assert [x["text"] for x in app.sent_to(made["b"])] == ["Class moves online tomorrow", "See you at 5"]
    assert [x["text"] for x in app.sent_to(made["a"])] == ["Class moves online tomorrow"]
    assert not await app.bot.conversations.receive(made["young_msg"])


async def test_a_failing_delete_is_logged_and_the_others_still_run(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    app = await make_app()
    made = await stale_and_young(app)

    async def broken(_self: ContactChoices) -> int:
        raise ConnectionError("the ledger went away")

    monkeypatch.setattr(ContactChoices, "forget_stale", broken)
    with caplog.at_level(logging.WARNING, logger="bot.slack.recovery"):
        await sweep_until(app, made["stale"])
    mentions, ids = await left(app)
    assert made["stale"] not in mentions and made["old_msg"].message_id not in ids
    assert any("could not delete" in r.getMessage() and "ConnectionError" in r.getMessage() for r in caplog.records)
