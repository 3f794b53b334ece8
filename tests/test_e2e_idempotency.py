"""Every Slack request is handled once: retried events, replayed commands and interactions, two replicas."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from standins import SlackCall, SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import RunningBot, new_channel, new_number, replies_for, settle, sign, trigger_id, wait_outcome
from tests.test_e2e_command import retry_button, sociocs_bodies
from tests.test_e2e_guardrails import private_replies
from tests.test_e2e_socket_mode import APP_TOKEN, envelope, socket_slack
from tests.test_e2e_webhooks import SECRET, sent_message_id
from tests.test_ledger import url

# Fixtures used here besides conftest's `hooked` (the bot with webhooks on, its threads bridged to
# customers): the Slack stand-in that speaks Socket Mode, and the ledger URLs (SQLite and PostgreSQL).
__all__ = ["socket_slack", "url"]


def test_the_ledger_knows_a_request_it_has_seen(url: str) -> None:
    import asyncio
    from datetime import timedelta

    from bot.ledger import Ledger
    from bot.ledger import _store as store

    async def body() -> list[bool]:
        ledger = await Ledger.open(url)
        other = await Ledger.open(url)  # another replica on the same database
        try:
            seen = [await ledger.first_request("event:Ev1"), await ledger.first_request("event:Ev1")]
            seen.append(await other.first_request("event:Ev1"))
            seen.append(await other.first_request("body:" + "0" * 64))
            results = await asyncio.gather(*(ledger.first_request("event:Ev2") for _ in range(5)))
            seen.append(sorted(results) == [False] * 4 + [True])
            return seen
        finally:
            await ledger.close()
            await other.close()

    assert asyncio.run(body()) == [True, False, False, True, True]
    assert timedelta(minutes=10) < store.SEEN_FOR  # outlives Slack's retries and the signature window


def test_old_request_keys_are_purged(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from sqlalchemy import insert, select

    from bot.ledger import Ledger
    from bot.ledger import _store as store
    from bot.ledger._schema import seen_requests

    async def body() -> list[str]:
        ledger = await Ledger.open(url)
        try:
            async with ledger._engine.begin() as conn:
                old = store.now() - store.SEEN_FOR * 2
                await conn.execute(insert(seen_requests).values(key="event:old", at=old))
            monkeypatch.setattr(store.random, "random", lambda: 0.0)  # this insert purges
            assert await ledger.first_request("event:new")
            async with ledger._engine.begin() as conn:
                return sorted((await conn.execute(select(seen_requests.c.key))).scalars())
        finally:
            await ledger.close()

    assert asyncio.run(body()) == ["event:new"]


def mention(parent: SlackCall, text: str, ts: str) -> dict[str, Any]:
    """A mention of the bot in the thread of `parent` (a send's summary)."""
    return {
        "type": "app_mention",
        "user": "U0SENDER",
        "text": f"<@U0BOT> {text}",
        "ts": ts,
        "channel": parent.args["channel"],
        "thread_ts": parent.response["ts"],
        "event_ts": ts,
    }


def post_twice(bot: RunningBot, body: str, content_type: str) -> list[httpx.Response]:
    """The same signed request, byte for byte, as someone replaying it within the signature window."""
    headers = {"Content-Type": content_type, **sign(body)}
    return [bot.http.post("/slack/events", content=body, headers=headers) for _ in range(2)]


def sent_texts(sociocs: SociocsStandin, number: str) -> list[object]:
    return [b["text"] for b in sociocs_bodies(sociocs, number)]


def test_a_retried_event_sends_once(hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    _, parent = sent_message_id(hooked, slack, number)
    event_id = f"EvRETRY{time.monotonic_ns()}"
    for retry in (None, 1, 2):  # Slack re-posts an event it thinks was answered too slowly
        answer = hooked.event(mention(parent, "Once only please", "3.1"), event_id=event_id, retry=retry)
        assert answer.status_code == 200
    slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "Once only" in json.dumps(c.args)])
    settle(hooked, slack)
    assert sent_texts(sociocs, number) == ["order update", "Once only please"]
    assert hooked.logs().count("ignored a repeated Slack request") >= 2


def test_a_replayed_command_sends_once(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    body = urlencode(
        {
            "team_id": "T0STANDIN",
            "channel_id": new_channel(),
            "user_id": "U0SENDER",
            "command": "/sms",
            "text": f"{number} replay me",
            "response_url": slack.response_url("replay"),
            "trigger_id": trigger_id(),
            "api_app_id": "A0STANDIN",
        }
    )
    first, again = post_twice(bot, body, "application/x-www-form-urlencoded")
    assert first.status_code == 200 and again.status_code == 200 and again.text == ""
    wait_outcome(slack, number)
    settle(bot, slack)
    assert sent_texts(sociocs, number) == ["replay me"]


def test_the_same_words_typed_twice_are_two_commands(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    bot.command(f"{number} twice on purpose")
    bot.command(f"{number} twice on purpose")
    sociocs.wait_for(lambda _: len(sociocs_bodies(sociocs, number)) == 2)


def test_a_replayed_retry_press_makes_one_attempt(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    sociocs.script(number, Reply(500, error_body("Boom.")))
    bot.command(f"{number} fails first")
    _, outcome = wait_outcome(slack, number)
    button = retry_button(outcome)
    assert button is not None
    name = f"replayed-{number}"
    payload = {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0OTHER", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": trigger_id(),
        "container": {"type": "message", "message_ts": outcome.response["ts"], "channel_id": outcome.args["channel"]},
        "channel": {"id": outcome.args["channel"]},
        "message": {"ts": outcome.response["ts"], "thread_ts": outcome.args.get("thread_ts"), "text": "x"},
        "response_url": slack.response_url(name),
        "actions": [
            {"type": "button", "action_id": "retry_send", "value": button["value"], "action_ts": "1795795704.1"}
        ],
    }
    first, again = post_twice(bot, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert first.status_code == 200 and again.status_code == 200
    slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "retried" in c.args["text"]])
    settle(bot, slack)
    assert len(sociocs_bodies(sociocs, number)) == 2  # the first try and one retry
    assert private_replies(slack, name) == []  # the replay was not even told "already retried"


def test_two_replicas_on_one_postgresql_handle_an_event_once(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, pg_url: str
):
    from tests.test_ledger import fresh_schema

    shared = {"DATABASE_URL": fresh_schema(pg_url), "SOCIOCS_WEBHOOK_SECRET": SECRET}
    a, b = make_bot(**shared), make_bot(**shared)
    number = new_number()
    _, parent = sent_message_id(a, slack, number)
    event_id = f"EvREPLICA{time.monotonic_ns()}"
    event = mention(parent, "One replica only", "4.1")
    assert a.event(event, event_id=event_id).status_code == 200
    assert b.event(event, event_id=event_id, retry=1).status_code == 200
    slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "One replica" in json.dumps(c.args)])
    settle(a, slack)
    settle(b, slack)
    assert sent_texts(sociocs, number) == ["order update", "One replica only"]
    assert "ignored a repeated Slack request" in a.logs() + b.logs()


def test_socket_mode_handles_a_redelivered_envelope_once(socket_slack: SlackStandin, sociocs: SociocsStandin, tmp_path):
    from tests.conftest import bot_env, start_bot

    env = bot_env(socket_slack, sociocs, SLACK_MODE=None, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=APP_TOKEN)
    running = start_bot(env, socket_slack, tmp_path)
    try:
        socket_slack.wait_for(lambda calls: [c for c in calls if c.method == "socket_connect"])
        number = new_number()
        first = envelope(number, "over the socket once", "env-a")
        again = {**first, "envelope_id": "env-b", "retry_attempt": 1, "retry_reason": "timeout"}
        socket_slack.push(first)
        socket_slack.push(again)
        socket_slack.wait_for(
            lambda calls: {c.args.get("envelope_id") for c in calls if c.method == "socket_ack"} >= {"env-a", "env-b"}
        )
        wait_outcome(socket_slack, number)
        settle_socket = new_number()
        socket_slack.push(envelope(settle_socket, "settle", "env-c"))
        wait_outcome(socket_slack, settle_socket)
        assert sent_texts(sociocs, number) == ["over the socket once"]
    finally:
        assert running.stop() == 0
