"""`@bot text` in a thread goes to that thread's customer, and asks when the thread has several."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from standins import SlackCall, SlackStandin, SociocsStandin
from tests.conftest import RunningBot, new_channel, new_number, parents_for, replies_for, settle
from tests.test_e2e_command import sociocs_bodies
from tests.test_e2e_modal import message_shortcut, submission, wait_view
from tests.test_e2e_webhooks import INBOX, incoming, post_webhook, sent_message_id

CHOICE = "This thread has several customers: who should get it?"


# Each test's channel of its own: Slack paces posts per channel (about one a second), so a channel
# shared with other tests would make these wait behind their posts.
THREADS_CHANNEL = "C0THREADCUSTOMERS"


@pytest.fixture(autouse=True)
def _own_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "THREADS_CHANNEL", new_channel())


def mention(bot: RunningBot, thread: str, text: str, *, user: str = "U0SENDER", channel: str | None = None) -> None:
    channel = channel or THREADS_CHANNEL
    ts = f"{thread}9"
    bot.event(
        {
            "type": "app_mention",
            "user": user,
            "text": f"<@U0BOT> {text}",
            "ts": ts,
            "channel": channel,
            "thread_ts": thread,
            "event_ts": ts,
        }
    )


def choice_for(slack: SlackStandin, thread: str) -> SlackCall:
    (whisper,) = slack.wait_for(
        lambda _: [
            c
            for c in slack.calls_to("chat.postEphemeral")
            if c.args.get("thread_ts") == thread and CHOICE in str(c.args.get("text"))
        ]
    )
    return whisper


def buttons(whisper: SlackCall) -> list[dict[str, Any]]:
    return [e for b in whisper.args["blocks"] if b["type"] == "actions" for e in b["elements"]]


def button_for(whisper: SlackCall, label: str) -> tuple[str, dict[str, Any]]:
    for b in buttons(whisper):
        if label in b["text"]["text"]:
            return next(x["block_id"] for x in whisper.args["blocks"] if b in x.get("elements", [])), b
    raise AssertionError(f"no button {label!r} in {buttons(whisper)}")


def press(bot: RunningBot, slack: SlackStandin, whisper: SlackCall, label: str, *, user: str, answer: str) -> None:
    """Press a button of the ephemeral choice, as Slack posts it; answers come to response URL `answer`."""
    block_id, button = button_for(whisper, label)
    bot.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0STANDIN"},
            "user": {"id": user, "team_id": "T0STANDIN"},
            "api_app_id": "A0STANDIN",
            "trigger_id": f"press.{answer}",
            "container": {
                "type": "message",
                "message_ts": "1700.1",
                "channel_id": whisper.args["channel"],
                "is_ephemeral": True,
            },
            "channel": {"id": whisper.args["channel"]},
            "response_url": slack.response_url(answer),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": block_id,
                    "value": button["value"],
                    "action_ts": "1700.2",
                }
            ],
        }
    )


def answers(slack: SlackStandin, name: str) -> list[SlackCall]:
    return [c for c in slack.calls_to("response_url") if c.path == name]


def texts_to(sociocs: SociocsStandin, number: str) -> list[str]:
    return [str(b["text"]) for b in sociocs_bodies(sociocs, number)]


def two_recipient_thread(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin) -> tuple[str, str, str]:
    """A send to A and B; A answers in its thread. Returns (A, B, thread)."""
    a, b = new_number(), new_number()
    bot.command(f"{a}, {b} Class moves online tomorrow", channel=THREADS_CHANNEL)
    slack.wait_for(lambda calls: replies_for(calls, a) and replies_for(calls, b))
    thread = parents_for(slack.calls, a)[0].response["ts"]
    post_webhook(bot, incoming(a, "Is it online only?", f"IN{a}", name="Ann <b>Lee</b>"))
    slack.wait_for(
        lambda calls: [
            c for c in calls if c.method == "chat.postMessage" and "Is it online only?" in json.dumps(c.args)
        ]
    )
    return a, b, thread


def test_a_mention_in_a_two_customer_thread_asks_and_sends_only_to_the_chosen_one(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    a, b, thread = two_recipient_thread(hooked, slack, sociocs)
    text = "Yes, online too: bring “your” notes & <laptop> 😀 " + "." * 1400
    mention(hooked, thread, text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    whisper = choice_for(slack, thread)
    assert whisper.args["user"] == "U0SENDER" and whisper.args["channel"] == THREADS_CHANNEL
    labels = [x["text"]["text"] for x in buttons(whisper)]
    assert len(labels) == 3 and labels[-1] == "Cancel"
    assert a in labels[0] and "Ann" in labels[0] and b in labels[1]
    shown = json.dumps(whisper.args["blocks"], ensure_ascii=False)
    assert "Ann &lt;b&gt;Lee&lt;/b&gt;" in shown and "<b>" not in shown
    settle(hooked, slack)
    assert texts_to(sociocs, a) == ["Class moves online tomorrow"]  # nothing sent while nobody chose
    assert texts_to(sociocs, b) == ["Class moves online tomorrow"]

    press(hooked, slack, whisper, a, user="U0SENDER", answer=f"choose-{a}")
    sociocs.wait_for(lambda _: texts_to(sociocs, a)[1:])
    (replaced,) = slack.wait_for(lambda _: answers(slack, f"choose-{a}"))
    assert (
        replaced.args["replace_original"] is True and "Sent to" in replaced.args["text"] and a in replaced.args["text"]
    )
    outcome = slack.wait_for(
        lambda calls: [
            c for c in replies_for(calls, a) if c.args["thread_ts"] == thread and "Sent to" in c.args["text"]
        ][1:]
    )
    assert outcome
    settle(hooked, slack)
    assert texts_to(sociocs, a) == ["Class moves online tomorrow", text]  # the text exactly as written
    assert texts_to(sociocs, b) == ["Class moves online tomorrow"]
    assert a not in hooked.logs() and b not in hooked.logs()  # numbers are masked in logs


def test_send_as_sms_from_a_customer_thread_makes_the_thread_ask(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    c, d = new_number(), new_number()
    _, parent = sent_message_id(hooked, slack, c)
    thread, channel = parent.response["ts"], parent.args["channel"]
    hooked.interaction(message_shortcut("Please call D", f"{thread}5", thread_ts=thread, channel=channel))
    view = wait_view(slack, f"msg.{thread}5")
    hooked.interaction(submission(view, to=d, text="Your parcel is ready"))
    slack.wait_for(
        lambda calls: [
            x for x in replies_for(calls, d) if x.args["thread_ts"] == thread and "Sent to" in x.args["text"]
        ]
    )
    mention(hooked, thread, "Yes, online too", channel=channel)  # where sent_message_id sent
    whisper = choice_for(slack, thread)
    labels = [x["text"]["text"] for x in buttons(whisper)]
    assert c in labels[0] and d in labels[1] and labels[2] == "Cancel"
    press(hooked, slack, whisper, "Cancel", user="U0SENDER", answer=f"cancel-{c}")
    (replaced,) = slack.wait_for(lambda _: answers(slack, f"cancel-{c}"))
    assert replaced.args["replace_original"] is True and "Cancelled" in replaced.args["text"]
    press(hooked, slack, whisper, d, user="U0SENDER", answer=f"late-{d}")  # after Cancel: nothing
    slack.wait_for(lambda _: answers(slack, f"late-{d}"))
    settle(hooked, slack)
    assert texts_to(sociocs, c) == ["order update"] and texts_to(sociocs, d) == ["Your parcel is ready"]


def test_a_customer_who_wrote_first_is_answered_directly(
    hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    stranger = new_number()
    post_webhook(hooked, incoming(stranger, "Are you open on Sunday?", f"IN{stranger}"))
    top = slack.wait_for(
        lambda calls: [
            c for c in calls if c.method == "chat.postMessage" and "Are you open on Sunday?" in json.dumps(c.args)
        ]
    )[0]
    mention(hooked, top.response["ts"], "Yes, 10 to 4", channel=INBOX)
    sociocs.wait_for(lambda _: texts_to(sociocs, stranger))
    assert texts_to(sociocs, stranger) == ["Yes, 10 to 4"]
    assert not [c for c in slack.calls_to("chat.postEphemeral") if c.args.get("thread_ts") == top.response["ts"]]


def test_pressing_twice_sends_once(hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    a, b, thread = two_recipient_thread(hooked, slack, sociocs)
    mention(hooked, thread, "Once only")
    whisper = choice_for(slack, thread)
    press(hooked, slack, whisper, b, user="U0SENDER", answer=f"first-{b}")
    press(hooked, slack, whisper, b, user="U0SENDER", answer=f"second-{b}")
    press(hooked, slack, whisper, a, user="U0SENDER", answer=f"third-{a}")
    slack.wait_for(
        lambda _: answers(slack, f"first-{b}") and answers(slack, f"second-{b}") and answers(slack, f"third-{a}")
    )
    sociocs.wait_for(lambda _: "Once only" in texts_to(sociocs, b))
    settle(hooked, slack)
    assert texts_to(sociocs, b).count("Once only") == 1 and "Once only" not in texts_to(sociocs, a)
    later = [answers(slack, f"second-{b}")[0].args, answers(slack, f"third-{a}")[0].args]
    assert all("already" in x["text"] and not x.get("replace_original") for x in later)


def test_only_the_person_who_mentioned_may_choose(hooked: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    a, _, thread = two_recipient_thread(hooked, slack, sociocs)
    mention(hooked, thread, "Mine to send")
    whisper = choice_for(slack, thread)
    press(hooked, slack, whisper, a, user="U0OTHER", answer=f"other-{a}")
    (refused,) = slack.wait_for(lambda _: answers(slack, f"other-{a}"))
    assert "<@U0SENDER>" in refused.args["text"] and not refused.args.get("replace_original")
    settle(hooked, slack)
    assert "Mine to send" not in texts_to(sociocs, a)
    press(hooked, slack, whisper, a, user="U0SENDER", answer=f"mine-{a}")  # the author still can
    sociocs.wait_for(lambda _: "Mine to send" in texts_to(sociocs, a))


def test_one_number_on_two_providers_is_told_apart_and_names_cannot_mention():
    from bot.ledger import ThreadCustomer
    from bot.slack.messages import MAX_CHOICES, choice_blocks

    number = "+16175550199"
    customers = [
        ThreadCustomer("twlo", "ck1", number, "<!here> Ann"),
        ThreadCustomer("twlowa", "ck2", number),
        *(ThreadCustomer("twlo", "ck1", f"+1617555{i:04d}") for i in range(20)),
    ]
    blocks = choice_blocks("m1", "hello", customers)
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    labels = [e["text"]["text"] for e in elements]
    assert labels[0] == f"{number} (&lt;!here&gt; Ann) on SMS (Twilio)"
    assert labels[1] == f"{number} on WhatsApp (Twilio)"
    assert len(elements) == MAX_CHOICES + 1 and labels[-1] == "Cancel"
    assert [json.loads(e["value"]) for e in elements[:2]] == [{"m": "m1", "i": 0}, {"m": "m1", "i": 1}]
    assert "<!here>" not in json.dumps(blocks) and "and 12 more" in json.dumps(blocks)
