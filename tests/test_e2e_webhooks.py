"""Delivery status and customer replies, end to end through the running bot's webhook endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sociocs.webhooks import sign as sociocs_sign
from bot.sociocs.webhooks import signature_ok
from standins import SlackCall, SlackStandin, SociocsStandin
from standins.sociocs import Reply
from tests.conftest import (
    CHANNEL_KEYS,
    INBOX,
    WEBHOOK_SECRET,
    RunningBot,
    bot_env,
    new_channel,
    new_number,
    replies_for,
    settle,
    wait_outcome,
)
from tests.test_e2e_command import retry_button, sociocs_bodies
from tests.test_e2e_guardrails import press_retry
from tests.test_e2e_modal import block, initial, submission, wait_view

SECRET = WEBHOOK_SECRET


def post_webhook(
    bot: RunningBot, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None
) -> httpx.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Sociocs-Signature"] = sociocs_sign(secret, data)
    return bot.http.post("/sociocs/webhook", content=data, headers=headers)


def status(message_id: str, value: str, **error: str) -> dict[str, Any]:
    data: dict[str, Any] = {"status": value}
    if error:
        data["error"] = error
    return {"message_id": message_id, "event": "status_update", "event_data": data}


def incoming(number: str, text: str, message_id: str, *, name: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id,
        "event": "message",
        "provider": "twlo",
        "channel_key": CHANNEL_KEYS["twlo"][0],
        "direction": "incoming",
        "from": number.lstrip("+"),
        "to": "16175550000",
        "text": text,
        "image_urls": [],
        "file_urls": [],
        "video_urls": [],
        "timestamp": 1754455905897,
        **extra,
    }
    if name:
        body["contact"] = {"id": 1, "name": name, "phone_number": number.lstrip("+")}
    return body


def sent_message_id(
    bot: RunningBot, slack: SlackStandin, number: str, channel: str | None = None
) -> tuple[str, SlackCall]:
    """A send to `number` (by default in a channel of its own, as Slack paces posts per channel); its
    Sociocs message id and its summary."""
    bot.command(f"{number} order update", channel=channel or new_channel())
    parent, reply = wait_outcome(slack, number)
    message_id = reply.args["text"].split("`")[1]
    return message_id, parent


def summary_updates(slack: SlackStandin, parent: SlackCall) -> list[SlackCall]:
    return [c for c in slack.calls_to("chat.update") if c.args.get("ts") == parent.response["ts"]]


# The endpoint itself ---------------------------------------------------------------------------------------


def test_signature_matches_the_documented_test_vector():
    expected = "a52954ef969a496aeed237f48b03c6df7ea43cd0f6e595d06dfe7a8b14b5d891"
    assert sociocs_sign("My Shared Secret", b"Hello, World!") == expected
    assert signature_ok("My Shared Secret", b"Hello, World!", expected)
    assert signature_ok("My Shared Secret", b"Hello, World!", expected.upper())
    assert not signature_ok("My Shared Secret", b"Hello, World?", expected)
    assert not signature_ok("my shared secret", b"Hello, World!", expected)
    assert not signature_ok("My Shared Secret", b"Hello, World!", None)


def test_without_a_secret_the_endpoint_does_not_exist(bot: RunningBot):
    assert post_webhook(bot, status("SMX", "sent")).status_code == 404


@pytest.mark.parametrize(
    ("secret", "raw", "code"),
    [
        (None, None, 401),
        ("not-the-secret", None, 401),
        (SECRET, b"{not json", 400),
        (SECRET, json.dumps({"event": "reaction", "message_id": "x"}).encode(), 422),
        (SECRET, json.dumps({"event": "status_update"}).encode(), 422),
        (SECRET, json.dumps([1, 2]).encode(), 422),
        (SECRET, b"{" + b" " * (300 * 1024) + b"}", 413),
    ],
)
def test_bad_webhooks_get_a_4xx_and_change_nothing(hooked: RunningBot, slack: SlackStandin, secret, raw, code):
    before = len(slack.calls)
    body = status("SM-never", "delivered")
    assert post_webhook(hooked, body, secret=secret, raw=raw).status_code == code
    settle(hooked, slack)
    assert [c for c in slack.calls[before:] if "SM-never" in json.dumps(c.args)] == []


# Delivery status -------------------------------------------------------------------------------------------


def test_status_updates_edit_the_summary_and_never_go_backwards(hooked: RunningBot, slack: SlackStandin):
    number = new_number()
    message_id, parent = sent_message_id(hooked, slack, number)
    assert post_webhook(hooked, status(message_id, "sent")).json() == {"status": "success", "duplicate": False}
    slack.wait_for(lambda _: summary_updates(slack, parent))
    assert post_webhook(hooked, status(message_id, "delivered")).status_code == 200
    slack.wait_for(lambda _: "delivered" in json.dumps(summary_updates(slack, parent)[-1].args["blocks"]))
    assert post_webhook(hooked, status(message_id, "delivered")).json()["duplicate"] is True
    count = len(summary_updates(slack, parent))
    # "sent" again (a late duplicate) and "sent" after "delivered" must not move it back.
    post_webhook(hooked, status(message_id, "sent"))
    settle(hooked, slack)
    updates = summary_updates(slack, parent)
    assert len(updates) == count  # the duplicate posted nothing new
    latest = json.dumps(updates[-1].args["blocks"], ensure_ascii=False)
    assert f":white_check_mark: {number} delivered" in latest and "order update" in latest


def test_out_of_order_read_before_delivered(hooked: RunningBot, slack: SlackStandin):
    number = new_number()
    message_id, parent = sent_message_id(hooked, slack, number)
    post_webhook(hooked, status(message_id, "read"))
    slack.wait_for(lambda _: summary_updates(slack, parent))
    post_webhook(hooked, status(message_id, "delivered"))
    settle(hooked, slack)
    latest = json.dumps(summary_updates(slack, parent)[-1].args["blocks"])
    assert f"{number} read" in latest and f"{number} delivered" not in latest


def test_a_status_before_the_send_answers_is_not_lost(hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    message_id = f"SMEARLY{number[-4:]}"
    # Sociocs answers a second late; the status webhook arrives meanwhile (within milliseconds).
    sociocs.script(number, Reply(200, {"status": "success", "data": {"message_id": message_id}}, delay=1))
    hooked.command(f"{number} racing the webhook")
    sociocs.wait_for(lambda _: sociocs_bodies(sociocs, number))
    assert post_webhook(hooked, status(message_id, "delivered")).status_code == 200
    parent, reply = wait_outcome(slack, number)
    assert message_id in reply.args["text"]
    update = slack.wait_for(lambda _: summary_updates(slack, parent))
    assert f"{number} delivered" in json.dumps(update[-1].args["blocks"])


def test_undelivered_adds_the_error_and_a_retry_button(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    message_id, _ = sent_message_id(hooked, slack, number)
    post_webhook(hooked, status(message_id, "undelivered", code="30003", message="Unreachable destination handset"))
    (failure,) = slack.wait_for(
        lambda calls: [c for c in replies_for(calls, number) if "Not delivered" in c.args["text"]]
    )
    assert "error 30003" in failure.args["text"] and "“Unreachable destination handset”" in failure.args["text"]
    assert retry_button(failure) is not None
    press_retry(hooked, slack, failure, "U0SENDER", f"undelivered-{number}")
    slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "retried" in c.args["text"]])
    assert len(sociocs_bodies(sociocs, number)) == 2


# Customer replies ----------------------------------------------------------------------------------------


def test_a_reply_goes_to_the_latest_thread_with_that_number(hooked: RunningBot, slack: SlackStandin):
    first, other = new_number(), new_number()
    general, support = new_channel(), new_channel()
    _, old_parent = sent_message_id(hooked, slack, first, channel=general)
    sent_message_id(hooked, slack, other, channel=general)
    hooked.command(f"{first} second conversation", channel=support)
    parent = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.method == "chat.postMessage"
            and c.args.get("channel") == support
            and first in str(c.args.get("text"))
            and not c.args.get("thread_ts")
        ]
    )[-1]
    slack.wait_for(lambda calls: [c for c in replies_for(calls, first) if c.args["thread_ts"] == parent.response["ts"]])
    body = incoming(
        first,
        "Thanks! <!channel> see <https://evil.example|here>",
        f"IN{first}",
        name="Jane <b>Doe</b>",
        image_urls=["https://cdn.example.com/photo.jpg"],
    )
    assert post_webhook(hooked, body).json() == {"status": "success", "duplicate": False}
    posted = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.method == "chat.postMessage"
            and "replied" in str(c.args.get("text"))
            and first in json.dumps(c.args.get("blocks"))
        ]
    )[0]
    assert posted.args["channel"] == support and posted.args["thread_ts"] == parent.response["ts"]
    blocks = json.dumps(posted.args["blocks"], ensure_ascii=False)
    assert "Jane &lt;b&gt;Doe&lt;/b&gt;" in blocks
    assert "&lt;!channel&gt;" in blocks and "<!channel>" not in blocks and "<https://evil" not in blocks
    assert "Image: https://cdn.example.com/photo.jpg" in blocks
    reply_button = posted.args["blocks"][-1]["elements"][0]
    assert reply_button["action_id"] == "reply_sms" and json.loads(reply_button["value"]) == {"p": "twlo", "n": first}
    assert post_webhook(hooked, body).json()["duplicate"] is True  # the same message again
    settle(hooked, slack)
    assert len([c for c in slack.calls if c.method == "chat.postMessage" and f"IN{first}" in json.dumps(c.args)]) == 0
    assert (
        len(
            [
                c
                for c in slack.calls_to("chat.postMessage")
                if "replied" in str(c.args.get("text")) and first in json.dumps(c.args.get("blocks"))
            ]
        )
        == 1
    )
    assert old_parent.response["ts"] != parent.response["ts"]


def test_an_unknown_number_starts_a_thread_in_the_inbox(hooked: RunningBot, slack: SlackStandin):
    stranger = new_number()
    post_webhook(hooked, incoming(stranger, "Hello? Who is this?", f"IN1{stranger}"))
    top = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.method == "chat.postMessage"
            and c.args.get("channel") == INBOX
            and stranger in json.dumps(c.args.get("blocks"))
        ]
    )[0]
    assert top.args.get("thread_ts") is None and "New message from" in top.args["text"]
    post_webhook(hooked, incoming(stranger, "Second message", f"IN2{stranger}"))
    second = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "chat.postMessage" and "Second message" in json.dumps(c.args)]
    )[0]
    assert second.args["channel"] == INBOX and second.args["thread_ts"] == top.response["ts"]


def test_without_an_inbox_an_unknown_number_is_only_recorded(bot_without_inbox: RunningBot, slack: SlackStandin):
    stranger = new_number()
    assert post_webhook(bot_without_inbox, incoming(stranger, "anyone?", f"IN{stranger}")).status_code == 200
    settle(bot_without_inbox, slack)
    assert [c for c in slack.calls if stranger in json.dumps(c.args)] == []
    assert "no thread and no INBOX_CHANNEL_ID" in bot_without_inbox.logs()


@pytest.fixture
def bot_without_inbox(make_bot) -> RunningBot:
    return make_bot(SOCIOCS_WEBHOOK_SECRET=SECRET)


def test_reply_button_opens_the_form_and_answers_in_the_same_thread(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    _, parent = sent_message_id(hooked, slack, number)
    channel = parent.args["channel"]
    post_webhook(hooked, incoming(number, "Can I come at 5?", f"INR{number}"))
    customer = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "chat.postMessage" and "Can I come at 5?" in json.dumps(c.args)]
    )[0]
    button = customer.args["blocks"][-1]["elements"][0]
    hooked.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0STANDIN"},
            "user": {"id": "U0SENDER"},
            "api_app_id": "A0STANDIN",
            "trigger_id": f"reply.{number}",
            "container": {"type": "message", "message_ts": customer.response["ts"], "channel_id": channel},
            "channel": {"id": channel},
            "message": {"ts": customer.response["ts"], "thread_ts": parent.response["ts"]},
            "actions": [
                {"type": "button", "action_id": "reply_sms", "block_id": "customer_reply", "value": button["value"]}
            ],
        }
    )
    view = wait_view(slack, f"reply.{number}")
    assert initial(view, "to") == number and initial(view, "provider") == "twlo"
    assert "destination" not in [b.get("block_id") for b in view["blocks"]]
    assert json.loads(view["private_metadata"])["thread_ts"] == parent.response["ts"]
    assert block(view, "text")
    hooked.interaction(submission(view, to=number, text="Yes, 5 works."))
    outcome = slack.wait_for(
        lambda calls: [
            c
            for c in replies_for(calls, number)
            if "Sent to" in c.args["text"] and c.args["thread_ts"] == parent.response["ts"]
        ][1:]
    )
    assert len(outcome) == 1  # the reply's outcome, in the same thread as the first send's
    assert sociocs_bodies(sociocs, number)[-1]["text"] == "Yes, 5 works."


def test_mentioning_the_bot_in_a_bridged_thread_sends_the_text_and_chatter_does_not(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    _, parent = sent_message_id(hooked, slack, number)
    thread, channel = parent.response["ts"], parent.args["channel"]
    # Ordinary thread chatter: the bot does not subscribe to it, and a stray delivery changes nothing.
    hooked.event(
        {
            "type": "message",
            "user": "U0OTHER",
            "text": "she is a regular",
            "ts": "1.1",
            "channel": channel,
            "thread_ts": thread,
        }
    )
    hooked.event(
        {
            "type": "app_mention",
            "user": "U0SENDER",
            "text": "<@U0BOT> See you at 5 &amp; thanks",
            "ts": "1.2",
            "channel": channel,
            "thread_ts": thread,
            "event_ts": "1.2",
        }
    )
    slack.wait_for(
        lambda calls: [
            c
            for c in replies_for(calls, number)
            if c.args["thread_ts"] == thread and "See you at 5" in json.dumps(c.args)
        ]
    )
    bodies = sociocs.wait_for(lambda _: sociocs_bodies(sociocs, number)[1:] and sociocs_bodies(sociocs, number))
    assert [b["text"] for b in bodies] == ["order update", "See you at 5 & thanks"]
    outcome = slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if c.args["thread_ts"] == thread][2:])
    assert "Sent to " + number in outcome[0].args["text"]


def test_a_mention_outside_a_customer_thread_sends_nothing(hooked: RunningBot, slack: SlackStandin):
    hooked.event(
        {
            "type": "app_mention",
            "user": "U0SENDER",
            "text": "<@U0BOT> hello",
            "ts": "2.1",
            "channel": "C0GENERAL",
            "thread_ts": "999.000001",
            "event_ts": "2.1",
        }
    )
    (whisper,) = slack.wait_for(
        lambda _: [
            c
            for c in slack.calls_to("chat.postEphemeral")
            if "not a conversation with a customer" in c.args["text"] and c.args.get("thread_ts") == "999.000001"
        ]
    )
    assert whisper.args["user"] == "U0SENDER"


# Subscribing ------------------------------------------------------------------------------------------------


def test_subscribe_registers_every_channel_with_a_stable_reference(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
):
    env = bot_env(slack, sociocs, SOCIOCS_WEBHOOK_SECRET=SECRET)
    before = len(sociocs.subscriptions())
    args = [sys.executable, "-m", "bot", "webhooks", "subscribe", "--url", "https://bot.example.com/"]
    first = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    second = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0 and second.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout  # same references, so the same subscription ids
    calls = sociocs.subscriptions()[before:]
    assert [c.body["provider"] for c in calls] == ["twlo", "twlowa", "twlo", "twlowa"]
    twlo = calls[0].body
    assert twlo == {
        "platform": "slack",
        "provider": "twlo",
        "channel_key": CHANNEL_KEYS["twlo"][0],
        "events": ["messages", "status_updates"],
        "subscriber_reference_id": twlo["subscriber_reference_id"],
        "webhook_url": "https://bot.example.com/sociocs/webhook",
        "secret": SECRET,
    }
    assert twlo["subscriber_reference_id"].startswith("sociocs-slack-bot-")
    assert calls[2].body["subscriber_reference_id"] == twlo["subscriber_reference_id"]
    assert calls[1].body["subscriber_reference_id"] != twlo["subscriber_reference_id"]
    assert all(c.apikey_ok for c in calls)
    assert "ok   twlo: subscribed https://bot.example.com/sociocs/webhook" in first.stdout


def test_subscribe_needs_a_secret_and_a_url(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "webhooks", "subscribe"],
        env=bot_env(slack, sociocs),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "SOCIOCS_WEBHOOK_SECRET is required" in result.stdout and "PUBLIC_URL" in result.stdout


def test_public_url_subscribes_at_start(make_bot, sociocs: SociocsStandin):
    before = len(sociocs.subscriptions())
    make_bot(SOCIOCS_WEBHOOK_SECRET=SECRET, PUBLIC_URL="https://public.example.com")
    calls = sociocs.wait_for(
        lambda _: sociocs.subscriptions()[before:] if len(sociocs.subscriptions()) - before >= 2 else None
    )
    assert {c.body["webhook_url"] for c in calls} == {"https://public.example.com/sociocs/webhook"}


def test_a_customer_named_and_writing_pings_cannot_ping(hooked: RunningBot, slack: SlackStandin):
    from tests.test_no_mentions import assert_cannot_ping

    stranger = new_number()
    body = incoming(stranger, "@channel <!here>", f"INPING{stranger}", name="@channel <!here>")
    assert post_webhook(hooked, body).json() == {"status": "success", "duplicate": False}
    (posted,) = slack.wait_for(
        lambda calls: [c for c in calls_to_inbox(calls) if stranger in json.dumps(c.args.get("blocks"))]
    )
    assert_cannot_ping(posted.args["blocks"], posted.args["text"])
    shown = json.dumps(posted.args["blocks"], ensure_ascii=False)
    assert "@\u200dchannel &lt;!here&gt;" in shown


def calls_to_inbox(calls: list[SlackCall]) -> list[SlackCall]:
    return [c for c in calls if c.method == "chat.postMessage" and c.args.get("channel") == INBOX]
