"""A `/sms` send checks for replays inside its reservation's transaction (one round trip to the ledger
before the acknowledgement, not two); every other answer of `/sms` still checks before it acts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.ledger import SeenBefore
from tests.conftest import new_channel, new_number, trigger_id
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio


def command_body(app: AppUnderTest, text: str, *, user: str = "U0SENDER") -> str:
    """One `/sms` exactly as Slack signs it: posting it twice is a replay."""
    return urlencode(
        {
            "team_id": "T0STANDIN",
            "channel_id": new_channel(),
            "user_id": user,
            "command": "/sms",
            "text": text,
            "response_url": app.slack.response_url(f"replay-{new_number()}"),
            "trigger_id": trigger_id(),
            "api_app_id": "A0STANDIN",
        }
    )


class Writes:
    """Counts the ledger round trips a request waits for: replay checks and reservations."""

    def __init__(self, app: AppUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        ledger = app.bot.service.ledger
        first, reserve = ledger.first_request, ledger.reserve

        async def counted_first(key: str) -> bool:
            self.calls.append("first_request")
            return await first(key)

        async def counted_reserve(*args: Any, **kw: Any) -> Any:
            self.calls.append("reserve")
            return await reserve(*args, **kw)

        monkeypatch.setattr(ledger, "first_request", counted_first)
        monkeypatch.setattr(ledger, "reserve", counted_reserve)


async def test_a_send_waits_for_one_ledger_write_and_a_replay_sends_nothing(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
):
    app = await make_app()
    writes = Writes(app, monkeypatch)
    number = new_number()
    body = command_body(app, f"{number} once only")
    first = await app.dispatch(body, "application/x-www-form-urlencoded")
    assert acked(first) == {}
    assert writes.calls == ["reserve"]  # the replay check rode in the reservation's transaction
    again = await app.dispatch(body, "application/x-www-form-urlencoded")
    assert again.status == 200 and again.body == ""
    await app.settled()
    assert [m["text"] for m in app.sent_to(number)] == ["once only"]


async def test_replays_racing_each_other_send_once(make_app: Any):
    app = await make_app()
    number = new_number()
    body = command_body(app, f"{number} racing")
    answers = await asyncio.gather(*(app.dispatch(body, "application/x-www-form-urlencoded") for _ in range(5)))
    assert [a.status for a in answers] == [200] * 5
    await app.settled()
    assert [m["text"] for m in app.sent_to(number)] == ["racing"]


async def test_a_refused_send_replayed_later_is_still_ignored(make_app: Any, monkeypatch: pytest.MonkeyPatch):
    """Over the rate limit, the request is recorded as seen with the refusal: replaying it once the
    minute has passed must not send it."""
    app = await make_app(RATE_LIMIT_PER_USER_PER_MINUTE="1")
    await app.command(f"{new_number()} uses the allowance", user="ULIMIT")
    number = new_number()
    body = command_body(app, f"{number} over the limit", user="ULIMIT")
    refused = acked(await app.dispatch(body, "application/x-www-form-urlencoded"))
    assert "limit" in refused["text"]
    # The minute has passed (the rate limit allows it now): the replay is still a replay.
    guardrails = app.bot.service.guardrails
    monkeypatch.setattr(guardrails, "policy", replace(guardrails.policy, rate_limit_per_minute=None))
    again = await app.dispatch(body, "application/x-www-form-urlencoded")
    assert again.status == 200 and again.body == ""
    await app.settled()
    assert app.sent_to(number) == []


async def test_other_answers_check_before_acting(make_app: Any, monkeypatch: pytest.MonkeyPatch):
    app = await make_app()
    writes = Writes(app, monkeypatch)
    for text in ("help", "+1 not a number at all", f"{new_number()} --at tomorrow 9am hello"):
        body = command_body(app, text)
        first = await app.dispatch(body, "application/x-www-form-urlencoded")
        assert first.status == 200 and first.body  # answered (help, a usage error, or scheduling news)
        again = await app.dispatch(body, "application/x-www-form-urlencoded")
        assert again.status == 200 and again.body == "", text
    assert writes.calls.count("first_request") == 6
    await app.settled()


async def test_the_ledger_answers_seen_before_within_one_batch(make_app: Any):
    from bot.ledger import NewSend

    app = await make_app()
    ledger = app.bot.service.ledger
    entry = NewSend(
        team_id="T",
        user_id="U",
        channel_id="C",
        provider="twlo",
        channel_key="ck",
        recipient=new_number(),
        name=None,
        text="x",
        image_urls=(),
        file_url=None,
        via="command",
    )
    results = await asyncio.gather(
        *(ledger.reserve([entry], user_id="U", limit_per_minute=None, request_key="body:same") for _ in range(3)),
        ledger.reserve([entry], user_id="U", limit_per_minute=None, request_key="body:other"),
    )
    assert sum(isinstance(r, list) for r in results[:3]) == 1
    assert sum(isinstance(r, SeenBefore) for r in results[:3]) == 2
    assert isinstance(results[3], list)
    assert not await ledger.first_request("body:same")  # one key for every entrance
