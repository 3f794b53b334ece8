"""Conversations end to end (issue 17): routing per provider and unusable inbox channels reported at
start and by `sociocs-bot check`; two people pressing *Assign to me* on two bot processes sharing one
PostgreSQL ledger get one winner."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from standins import SlackCall, SlackStandin, SociocsStandin
from tests.conftest import CHANNEL_KEYS, RunningBot, bot_env, new_channel, new_number, settle
from tests.test_cli import run
from tests.test_e2e_webhooks import SECRET, incoming, post_webhook


def first_posts(slack: SlackStandin, channel: str, needle: str) -> list[SlackCall]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.args.get("channel") == channel and c.args.get("thread_ts") is None and needle in json.dumps(c.args)
    ]


def test_each_provider_routes_to_its_channel_and_an_unusable_one_is_reported_at_start(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin
):
    sms, fallback = new_channel(), new_channel()
    bot: RunningBot = make_bot(
        SOCIOCS_WEBHOOK_SECRET=SECRET,
        SOCIOCS_CHANNEL_KEY_GSWA=CHANNEL_KEYS["gswa"][0],
        INBOX_CHANNEL_ID_TWLO=sms,
        INBOX_CHANNEL_ID_GSWA="G0PRIVATE",  # private, and the bot is not in it
        INBOX_CHANNEL_ID=fallback,
    )
    a, b = new_number(), new_number()
    assert post_webhook(bot, incoming(a, "texting you", f"INA{a}")).status_code == 200
    whatsapp = incoming(b, "on WhatsApp", f"INB{b}", provider="twlowa", channel_key=CHANNEL_KEYS["twlowa"][0])
    assert post_webhook(bot, whatsapp).status_code == 200
    slack.wait_for(lambda _: first_posts(slack, sms, a) and first_posts(slack, fallback, b))
    head = first_posts(slack, sms, a)[0]
    actions = [e["action_id"] for blk in head.args["blocks"] if blk["type"] == "actions" for e in blk["elements"]]
    assert actions == ["reply_sms", "assign_conversation", "close_conversation"]
    logs = bot.logs()
    assert "inbox channel unusable: INBOX_CHANNEL_ID_GSWA G0PRIVATE: cannot be reached (channel_not_found)" in logs
    assert f"INBOX_CHANNEL_ID_TWLO {sms}" not in logs


def test_check_fails_for_an_inbox_channel_the_bot_cannot_post_in(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
):
    slack.workspace.archived_channels.add("C0OLDINBOX")
    env = bot_env(slack, sociocs, INBOX_CHANNEL_ID="C0GENERAL", INBOX_CHANNEL_ID_TWLOWA="C0OLDINBOX")
    result = run(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "ok   slack inbox channel: INBOX_CHANNEL_ID C0GENERAL: #general, the bot can post there" in result.stdout
    assert "FAIL slack inbox channel: INBOX_CHANNEL_ID_TWLOWA C0OLDINBOX: the channel is archived" in result.stdout


def assign_press(head: SlackCall, user: str, response_url: str) -> dict[str, Any]:
    (button,) = [
        e
        for blk in head.args["blocks"]
        if blk["type"] == "actions"
        for e in blk["elements"]
        if e["action_id"] == "assign_conversation"
    ]
    channel, ts = head.args["channel"], head.response["ts"]
    return {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": user, "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": f"assign.{user}",
        "response_url": response_url,
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel},
        "message": {"ts": ts, "text": "x"},
        "actions": [{"type": "button", "action_id": "assign_conversation", "value": button["value"]}],
    }


def test_two_people_assigning_at_once_on_two_replicas_get_one_winner(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, pg_url: str
):
    from tests.test_ledger import fresh_schema

    inbox = new_channel()
    shared = {"DATABASE_URL": fresh_schema(pg_url), "SOCIOCS_WEBHOOK_SECRET": SECRET, "INBOX_CHANNEL_ID": inbox}
    a, b = make_bot(**shared), make_bot(**shared)
    number = new_number()
    post_webhook(a, incoming(number, "anyone there?", f"INRACE{number}"))
    (head,) = slack.wait_for(lambda _: first_posts(slack, inbox, number))

    presses = [(a, "U0SENDER", "race-a"), (b, "U0OTHER", "race-b")]
    barrier = threading.Barrier(len(presses))
    answers: list[httpx.Response] = []

    def press(bot: RunningBot, user: str, name: str) -> None:
        payload = assign_press(head, user, slack.response_url(name))
        barrier.wait()
        answers.append(bot.interaction(payload))

    threads = [threading.Thread(target=press, args=p) for p in presses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [200, 200]

    notes = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.args.get("thread_ts") == head.response["ts"] and "took this" in str(c.args.get("text"))
        ]
    )
    told = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "response_url" and c.path in ("race-a", "race-b")]
    )
    (note,) = notes
    winner = "U0SENDER" if "U0SENDER" in note.args["text"] else "U0OTHER"
    loser_path = "race-b" if winner == "U0SENDER" else "race-a"
    (refusal,) = told
    assert refusal.path == loser_path and f"<@{winner}> already has this conversation" in refusal.args["text"]
    shown = slack.wait_for(
        lambda _: (
            (m := slack.current(inbox, head.response["ts"])) and f"<@{winner}> has it" in json.dumps(m["blocks"]) and m
        )
    )
    assert "assign_conversation" not in json.dumps(shown["blocks"])
    settle(a, slack)
    settle(b, slack)
    assert len([c for c in slack.calls if c.args.get("thread_ts") == head.response["ts"]]) == 1  # one note only
    assert len([c for c in slack.calls if c.method == "response_url" and c.path in ("race-a", "race-b")]) == 1
