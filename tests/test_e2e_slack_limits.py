"""Reporting under Slack's real limits: paced, coalesced, one reply per send, in the channel, exactly once.

The Slack stand-in enforces Slack's documented rate and size limits (see `bot.standins.slack`); these
tests assert counts and orderings, never times (bench/slack_limits.py measures those).
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.standins.slack import MAX_BLOCKS
from standins import SlackCall, SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import BOT_TOKEN, RunningBot, bot_env, new_channel, new_number, posts, start_bot, wait_outcome
from tests.test_e2e_command import retry_button, sociocs_bodies
from tests.test_e2e_guardrails import press_retry
from tests.test_e2e_webhooks import SECRET, incoming, post_webhook, status

ORDER = [":outbox_tray:", ":white_check_mark:", ":eyes:"]  # sent, delivered, read: never backwards


@pytest.fixture(scope="module")
def wide(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    """A bot that takes 50 recipients, with webhooks and an inbox channel of its own."""
    running = start_bot(
        bot_env(
            slack,
            sociocs,
            MAX_RECIPIENTS="50",
            SOCIOCS_WEBHOOK_SECRET=SECRET,
            INBOX_CHANNEL_ID="C0WIDEINBOX",
        ),
        slack,
        tmp_path_factory.mktemp("wide"),
    )
    yield running
    running.stop()


def in_channel(slack: SlackStandin, channel: str) -> tuple[list[SlackCall], list[SlackCall]]:
    """(top-level posts, thread replies) in `channel`, each as it reads now."""
    mine = [c for c in posts(slack.calls) if c.args.get("channel") == channel]
    return [c for c in mine if not c.args.get("thread_ts")], [c for c in mine if c.args.get("thread_ts")]


def wait_reply_listing(slack: SlackStandin, channel: str, numbers: list[str], timeout: float = 30) -> SlackCall:
    """The one outcome reply in `channel` once it lists an outcome for every number."""

    def listed(_: list[SlackCall]) -> SlackCall | None:
        _, replies = in_channel(slack, channel)
        done = [r for r in replies if all(f"to {n}" in str(r.args.get("text")) for n in numbers)]
        return done[0] if done else None

    return slack.wait_for(listed, timeout)


def private(slack: SlackStandin, name: str) -> list[SlackCall]:
    return [c for c in slack.calls if c.method == "response_url" and c.path == name]


# The stand-in enforces Slack's limits ---------------------------------------------------------------------


def test_the_slack_standin_enforces_slacks_documented_limits(slack: SlackStandin):
    channel = new_channel()
    api = httpx.Client(base_url=slack.api_url, headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    answers = [api.post("chat.postMessage", json={"channel": channel, "text": f"hi {i}"}) for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]  # a burst of 3, then one a second
    assert answers[3].json() == {"ok": False, "error": "ratelimited"}
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert len(slack.ratelimited(channel)) == 1
    assert not [c for c in slack.calls if c.args.get("text") == "hi 3"]  # a refused call is not a post

    other = new_channel()
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * (MAX_BLOCKS + 1)
    assert api.post("chat.postMessage", json={"channel": other, "text": "x", "blocks": too_many}).json()["error"] == (
        "invalid_blocks"
    )
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert api.post("chat.postMessage", json={"channel": other, "text": "x", "blocks": too_long}).json()["error"] == (
        "invalid_blocks"
    )

    url = slack.response_url(f"five-{channel}")
    codes = [httpx.post(url, json={"text": f"use {i}"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [404]  # a response_url takes 5 uses in 30 minutes
    api.close()


# One summary and one reply per send -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [10, 50])
def test_a_send_to_many_gets_one_summary_and_one_reply_listing_all(
    wide: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, count: int
):
    channel, name = new_channel(), f"many-{count}-{new_number()}"
    numbers = [new_number() for _ in range(count)]
    failing = numbers[3]
    sociocs.script(failing, Reply(400, error_body("Number is blocked.")))
    assert wide.command(f"{', '.join(numbers)} Closed today", channel=channel, response_name=name).status_code == 200
    reply = wait_reply_listing(slack, channel, numbers)
    parents, replies = in_channel(slack, channel)
    assert len(parents) == 1 and len(replies) == 1
    assert reply.args["thread_ts"] == parents[0].response["ts"]
    text = reply.args["text"]
    assert [text.index(f"to {n}") for n in numbers] == sorted(text.index(f"to {n}") for n in numbers)  # in order
    assert text.count("Sent to") == count - 1 and "Not sent to " + failing in text
    button = retry_button(reply)
    assert button is not None and button["value"] in str(reply.args["blocks"])
    assert len(json.loads(json.dumps(reply.args["blocks"]))) <= MAX_BLOCKS
    assert slack.ratelimited(channel) == [] and private(slack, name) == []
    assert all(len(sociocs_bodies(sociocs, n)) == 1 for n in numbers)


# Senders at once in one channel: their 2 posts each are four times Slack's burst of 3, so most wait their
# turn (one a second). bench/slack_limits.py measures the 20 senders (40 posts, about 40 s).
SENDERS = 6


def test_many_senders_in_one_channel_all_land_in_the_channel(bot: RunningBot, slack: SlackStandin):
    channel = new_channel()
    numbers = [new_number() for _ in range(SENDERS)]
    for i, number in enumerate(numbers):
        assert bot.command(f"{number} hello {i}", channel=channel, response_name=f"twenty-{number}").status_code == 200
    for number in numbers:
        wait_reply_listing(slack, channel, [number], timeout=90)
    parents, replies = in_channel(slack, channel)
    assert len(parents) == SENDERS and len(replies) == SENDERS
    for number in numbers:  # every reply in the thread of its own summary
        (parent,) = [p for p in parents if number in str(p.args["text"])]
        (reply,) = [r for r in replies if number in str(r.args["text"])]
        assert reply.args["thread_ts"] == parent.response["ts"]
    assert slack.ratelimited(channel) == []
    assert all(private(slack, f"twenty-{n}") == [] for n in numbers)


def test_a_429_is_waited_out_and_the_message_still_lands_in_the_channel(bot: RunningBot, slack: SlackStandin):
    channel, number = new_channel(), new_number()
    api = httpx.Client(base_url=slack.api_url, headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    for i in range(3):  # someone else used the channel's burst: the bot's first post gets a 429
        assert api.post("chat.postMessage", json={"channel": channel, "text": f"busy {i}"}).status_code == 200
    api.close()
    bot.command(f"{number} after a rate limit", channel=channel, response_name=f"limited-{number}")
    parent, reply = wait_outcome(slack, number)
    assert parent.args["channel"] == channel and reply.args["thread_ts"] == parent.response["ts"]
    assert len(slack.ratelimited(channel)) >= 1  # Slack said wait, the bot waited
    assert private(slack, f"limited-{number}") == []  # a rate limit is never a reason to go private


def test_retry_all_failed_retries_each_failed_recipient_once_in_the_same_reply(
    wide: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    channel, name = new_channel(), f"retry-all-{new_number()}"
    numbers = [new_number() for _ in range(50)]
    failing = numbers[2:]  # 48 failures: more Retry buttons than fit in 50 blocks
    for n in failing:
        sociocs.script(n, Reply(400, error_body("Try again later.")))
    wide.command(f"{', '.join(numbers)} Reopening Monday", channel=channel)
    reply = wait_reply_listing(slack, channel, numbers)
    button = retry_button(reply)
    assert button is not None and str(button["value"]).startswith("all:")
    assert "Retry all failed (48)" in json.dumps(reply.args["blocks"])
    press_retry(wide, slack, reply, "U0SENDER", name)

    def all_sent(_: list[SlackCall]) -> SlackCall | None:
        _, replies = in_channel(slack, channel)
        return replies[0] if replies and replies[0].args["text"].count("Sent to") == 50 else None

    retried = slack.wait_for(all_sent, 60)
    assert retried.args["text"].count("<@U0SENDER> retried: :white_check_mark: Sent to") == 48
    assert retry_button(retried) is None
    assert all(len(sociocs_bodies(sociocs, n)) == 2 for n in failing)
    assert all(len(sociocs_bodies(sociocs, n)) == 1 for n in numbers[:2])
    _, replies = in_channel(slack, channel)
    assert len(replies) == 1 and slack.ratelimited(channel) == [] and private(slack, name) == []


def test_a_reply_slack_refuses_is_told_privately_with_every_outcome(bot: RunningBot, slack: SlackStandin):
    channel, name = new_channel(), f"refused-{new_number()}"
    numbers = [new_number(), new_number()]
    slack.hold(channel)  # the reply's post is answered with a server error: it never lands
    bot.command(f"{', '.join(numbers)} refused reply", channel=channel, response_name=name)
    slack.wait_for(lambda calls: [c for c in calls if c.method == "held" and c.args.get("channel") == channel])
    slack.release(channel)
    (told,) = slack.wait_for(lambda _: private(slack, name))
    assert "I could not post these outcomes in the thread" in told.args["text"]
    assert all(f"Sent to {n}" in told.args["text"] for n in numbers)
    assert in_channel(slack, channel)[1] == []


# Edits: coalesced, rendered when sent, never backwards ------------------------------------------------------


def test_fifty_sent_then_delivered_end_delivered_and_never_go_backwards(
    wide: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    channel = new_channel()
    numbers = [new_number() for _ in range(50)]
    wide.command(f"{', '.join(numbers)} Your parcel is on its way", channel=channel)
    reply = wait_reply_listing(slack, channel, numbers)
    ids = re.findall(r"Sociocs message id `(\w+)`", reply.args["text"])
    assert len(ids) == 50
    for message_id in ids:
        assert post_webhook(wide, status(message_id, "sent")).status_code == 200
    for message_id in ids:
        assert post_webhook(wide, status(message_id, "delivered")).status_code == 200
    (parent,), _ = in_channel(slack, channel)

    def summary_edits() -> list[SlackCall]:
        return [c for c in slack.calls_to("chat.update") if c.args.get("ts") == parent.response["ts"]]

    slack.wait_for(lambda _: summary_edits() and json.dumps(summary_edits()[-1].args).count(" delivered") == 50, 60)
    seen: dict[str, int] = {}
    for edit in summary_edits():  # each recipient's status only ever moves forward
        contexts = [e["text"] for b in edit.args["blocks"] if b["type"] == "context" for e in b["elements"]]
        line = next(t for t in contexts if "Delivery" in t)
        for number in numbers:
            found = re.search(r"(:\w+:) " + re.escape(number), line)
            if found:
                rank = ORDER.index(found.group(1))
                assert rank >= seen.get(number, 0)
                seen[number] = rank
    assert len(summary_edits()) < 100  # coalesced: far fewer edits than the 100 status updates
    assert slack.ratelimited(channel) == [] and slack.ratelimited() == [
        c for c in slack.ratelimited() if c.args.get("channel") != channel
    ]


def test_a_failure_after_read_is_a_regression_and_is_ignored(wide: RunningBot, slack: SlackStandin):
    channel, number = new_channel(), new_number()
    wide.command(f"{number} regression", channel=channel)
    parent, reply = wait_outcome(slack, number)
    message_id = reply.args["text"].split("`")[1]
    post_webhook(wide, status(message_id, "read"))
    slack.wait_for(
        lambda _: (
            [c for c in slack.calls_to("chat.update") if c.args.get("ts") == parent.response["ts"]]
            and f"{number} read" in json.dumps(slack.current(channel, parent.response["ts"]))
        )
    )
    post_webhook(wide, status(message_id, "failed", code="30008", message="Unknown error"))
    # Settle: a later status that does move forward is shown, so the failure has had its chance.
    other = new_number()
    wide.command(f"{other} settle", channel=channel)
    wait_outcome(slack, other)
    _, replies = in_channel(slack, channel)
    mine = [r for r in replies if number in str(r.args["text"])]
    assert len(mine) == 1 and "Not delivered" not in mine[0].args["text"] and retry_button(mine[0]) is None
    assert f"{number} read" in json.dumps(slack.current(channel, parent.response["ts"]))


# The inbox: a burst of first messages ------------------------------------------------------------------------


def test_a_burst_of_first_messages_opens_every_inbox_thread_within_slacks_limits(wide: RunningBot, slack: SlackStandin):
    numbers = [new_number() for _ in range(8)]
    for i, number in enumerate(numbers):
        assert post_webhook(wide, incoming(number, f"first message {i}", f"SMIN{number[-6:]}")).status_code == 200

    def opened(_: list[SlackCall]) -> list[SlackCall] | None:
        found = [c for c in in_channel(slack, "C0WIDEINBOX")[0] if any(n in c.args["text"] for n in numbers)]
        return found if len(found) == len(numbers) else None

    threads = slack.wait_for(opened, 30)
    assert sorted(n for c in threads for n in numbers if n in c.args["text"]) == sorted(numbers)
    assert slack.ratelimited("C0WIDEINBOX") == []


# Exactly once across a crash ---------------------------------------------------------------------------------


def test_an_outcome_recorded_but_not_shown_is_shown_once_after_a_restart(
    make_bot: Any, slack: SlackStandin, sociocs: SociocsStandin
):
    settings = {"LEDGER_RECOVERY_SECONDS": "2"}
    first = make_bot(**settings)
    channel, number = new_channel(), new_number()
    slack.hold(channel)  # the outcome reply never reaches Slack before the crash
    first.command(f"{number} cut off before the reply", channel=channel)
    slack.wait_for(lambda calls: [c for c in calls if c.method == "held" and c.args.get("channel") == channel])
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    slack.release(channel)

    second = make_bot(**settings)  # same working directory, so the same SQLite ledger
    parent, reply = wait_outcome(slack, number, timeout=30)
    assert "Sent to " + number in reply.args["text"] and reply.args["thread_ts"] == parent.response["ts"]
    # Later sweeps find nothing more to show: one more send through the restarted bot, then count.
    other = new_number()
    second.command(f"{other} after the restart", channel=channel)
    wait_outcome(slack, other)
    slack.wait_for(lambda _: "left unshown" in second.logs())
    _, replies = in_channel(slack, channel)
    assert len([r for r in replies if number in str(r.args["text"])]) == 1
    assert second.logs().count("left unshown") == 1
    assert len(sociocs_bodies(sociocs, number)) == 1


def test_a_delivery_status_recorded_but_not_shown_is_shown_after_a_restart(make_bot: Any, slack: SlackStandin):
    settings = {"LEDGER_RECOVERY_SECONDS": "2", "SOCIOCS_WEBHOOK_SECRET": SECRET}
    first = make_bot(**settings)
    channel, number = new_channel(), new_number()
    first.command(f"{number} delivered during a crash", channel=channel)
    parent, reply = wait_outcome(slack, number)
    message_id = reply.args["text"].split("`")[1]
    slack.hold(channel)  # the summary's edit never reaches Slack before the crash
    assert post_webhook(first, status(message_id, "delivered")).status_code == 200
    slack.wait_for(lambda calls: [c for c in calls if c.method == "held" and c.args.get("ts") == parent.response["ts"]])
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    slack.release(channel)

    second = make_bot(**settings)
    ts = parent.response["ts"]
    slack.wait_for(lambda _: f"{number} delivered" in json.dumps(slack.current(channel, ts)), 30)
    other = new_number()  # later sweeps find nothing more to show
    second.command(f"{other} after the restart", channel=channel)
    wait_outcome(slack, other)
    assert second.logs().count("delivery statuses a stopped process left unshown") == 1
