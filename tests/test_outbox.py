"""The outbox and the outcome reply's rendering, in process against the limited Slack stand-in."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import aiohttp

from bot.ledger import SendRecord, SendStatus
from bot.slack.outbox import Outbox, PacedWebClient
from bot.slack.outcome_reply import RETRY_ALL_PREFIX, render
from bot.standins import SlackStandin
from bot.standins.slack import MAX_BLOCKS, MAX_SECTION_TEXT, block_problem


def record(i: int, status: SendStatus, **kw: Any) -> SendRecord:
    stamp = datetime(2026, 1, 1)
    values: dict[str, Any] = dict(
        id=f"s{i:04d}",
        created_at=stamp,
        updated_at=stamp,
        team_id="T",
        user_id="U",
        channel_id="C1",
        thread_ts="1.1",
        summary_ts="1.1",
        provider="twlo",
        channel_key="ck",
        recipient=f"+1617555{i:04d}",
        name=None,
        text="hello",
        image_urls=(),
        file_url=None,
        status=status,
        message_id=f"SM{i:08d}" if status is SendStatus.SENT else None,
        error="Number is blocked." if status is SendStatus.FAILED else None,
        http_status=400 if status is SendStatus.FAILED else None,
        attempts=1,
        via="command",
    )
    values.update(kw)
    return SendRecord(**values)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for b in blocks:
        for e in [*b.get("elements", []), b.get("accessory") or {}]:
            if e.get("action_id") == "retry_send":
                found.append(e)
    return found


def test_every_failed_recipient_gets_a_button_while_it_fits():
    records = [record(i, SendStatus.FAILED if i % 2 else SendStatus.SENT) for i in range(20)]
    text, blocks, shown, complete = render(records, retry_all="C1:1.1")
    assert complete and len(shown) == 20
    assert [b["value"] for b in buttons(blocks)] == [r.id for r in records if r.status is SendStatus.FAILED]
    assert block_problem(blocks) is None
    assert [text.index(r.recipient) for r in records] == sorted(text.index(r.recipient) for r in records)


def test_beyond_slacks_limits_one_retry_all_failed_and_nothing_cut():
    records = [record(i, SendStatus.FAILED) for i in range(100)]
    _, blocks, _, _ = render(records, retry_all="C1:1.1")
    assert len(blocks) <= MAX_BLOCKS and block_problem(blocks) is None
    (button,) = buttons(blocks)
    assert button["value"] == RETRY_ALL_PREFIX + "C1:1.1" and "Retry all failed (100)" in json.dumps(button)
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert all(r.recipient in shown for r in records)  # every outcome listed, none cut
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks if b["type"] == "section")


def test_recipients_still_on_their_way_are_counted_not_listed():
    records = [record(0, SendStatus.SENT), record(1, SendStatus.PENDING), record(2, SendStatus.QUEUED)]
    text, blocks, shown, complete = render(records)
    assert not complete and records[1].recipient not in text and "2 more on the way" in json.dumps(blocks)
    assert shown == {"s0000": "sent", "s0001": "", "s0002": ""}


def test_edits_of_one_message_are_coalesced_and_rendered_when_sent():
    slack = SlackStandin(bot_token="xoxb-t")

    async def body() -> tuple[int, list[int], int]:
        await slack.start()
        session = aiohttp.ClientSession()
        client = PacedWebClient(token="xoxb-t", base_url=slack.api_url, session=session, retry_handlers=[])
        outbox = Outbox(client)
        posted = await client.chat_postMessage(channel="C0EDIT", text="v0")
        ts = str(posted["ts"])
        state = {"version": 0}
        rendered: list[int] = []

        async def render() -> tuple[str, list[dict[str, Any]]]:
            rendered.append(state["version"])
            return f"v{state['version']}", []

        async def bump(i: int) -> None:
            state["version"] = i
            await outbox.edit("C0EDIT", ts, render)

        await asyncio.gather(*(bump(i) for i in range(1, 31)))
        await session.close()
        await slack.stop()
        return len(slack.calls_to("chat.update")), rendered, len(slack.ratelimited())

    updates, rendered, limited = asyncio.run(body())
    assert updates < 30 and rendered[-1] == 30  # coalesced; the last edit shows the latest state
    assert rendered == sorted(rendered)  # never an older state after a newer one
    assert limited == 0
    assert slack.current("C0EDIT", slack.calls_to("chat.update")[-1].args["ts"])["text"] == "v30"  # type: ignore[index]
