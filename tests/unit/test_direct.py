"""`/sms` answered without Bolt's dispatch (bot.slack.direct) answers exactly as through Bolt."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.slack.direct import DirectCommands
from tests.conftest import new_channel, new_number, trigger_id
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio


def form(app: AppUnderTest, text: str, **extra: str) -> bytes:
    fields = {
        "token": "deprecated",
        "team_id": "T0STANDIN",
        "channel_id": new_channel(),
        "user_id": "U0SENDER",
        "command": "/sms",
        "text": text,
        "response_url": app.slack.response_url(f"direct-{trigger_id()}"),
        "trigger_id": trigger_id(),
        **extra,
    }
    return urlencode(fields).encode()


async def direct(app: AppUnderTest, raw: bytes) -> Any:
    app.bot.bot_user_id = app.bot.bot_user_id or "U0BOT"
    return await DirectCommands(app.bot)(dict(parse_qsl(raw.decode())), raw)


async def test_a_send_is_recorded_before_the_answer_and_sent_once(make_app: Any) -> None:
    app = await make_app()
    number = new_number()
    raw = form(app, f"{number} Your order is ready")
    answer = await direct(app, raw)
    assert acked(answer) == {}
    assert [r.recipient for r in await app.bot.ledger.history("U0SENDER")] == [number]
    again = await direct(app, raw)  # the same signed request again: a replay, answered and dropped
    assert acked(again) == {}
    await app.settled()
    assert len(app.sent_to(number)) == 1


async def test_help_and_mistakes_answer_as_bolt_does(make_app: Any) -> None:
    app = await make_app()
    for text in ("help", "help templates", "+1 617 555 hello", "(323) 555-0149 hello", "--frobnicate"):
        mine = acked(await direct(app, form(app, text)))
        assert mine == acked(await app.command(text))
        assert mine["response_type"] == "ephemeral" and mine["text"]


async def test_other_requests_are_left_to_bolt(make_app: Any) -> None:
    app = await make_app()
    assert await direct(app, form(app, "help", command="/other")) is None
    assert await direct(app, urlencode({"ssl_check": "1", "token": "x"}).encode()) is None
    app.bot.bot_user_id = None  # not known yet: Bolt's authorization learns it
    raw = form(app, "help")
    assert await DirectCommands(app.bot)(dict(parse_qsl(raw.decode())), raw) is None


async def test_a_listener_crash_is_a_logged_500(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = await make_app()

    async def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.slack.direct.sms_command", broken)
    answer = await direct(app, form(app, "help"))
    assert answer.status == 500 and answer.body == ""
