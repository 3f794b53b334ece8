"""Guardrails and the ledger end to end: refusals, the rate limit, Retry, crash recovery, two replicas."""

from __future__ import annotations

import concurrent.futures
import json
import signal
from typing import Any

import pytest

from standins import SlackCall, SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import (
    RunningBot,
    everything_about,
    new_number,
    parents_for,
    replies_for,
    settle,
    wait_outcome,
)
from tests.test_e2e_command import retry_button, sociocs_bodies


def press_retry(bot: RunningBot, slack: SlackStandin, outcome: SlackCall, user: str, name: str) -> Any:
    button = retry_button(outcome)
    assert button is not None
    return bot.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0STANDIN"},
            "user": {"id": user, "team_id": "T0STANDIN"},
            "api_app_id": "A0STANDIN",
            "trigger_id": "t.retry",
            "container": {
                "type": "message",
                "message_ts": outcome.response["ts"],
                "channel_id": outcome.args["channel"],
                "is_ephemeral": False,
            },
            "channel": {"id": outcome.args["channel"]},
            "message": {
                "ts": outcome.response["ts"],
                "thread_ts": outcome.args.get("thread_ts"),
                "text": outcome.args["text"],
                "blocks": outcome.args.get("blocks"),
            },
            "response_url": slack.response_url(name),
            "actions": [{"type": "button", "action_id": "retry_send", "block_id": "retry", "value": button["value"]}],
        }
    )


def private_replies(slack: SlackStandin, name: str) -> list[SlackCall]:
    return [c for c in slack.calls if c.method == "response_url" and c.path == name]


# Who, where, to which countries ---------------------------------------------------------------------


def test_only_allowed_users_may_send(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    strict = make_bot(ALLOWED_USER_IDS="U0OTHER, U0AGENT")
    number = new_number()
    reply = strict.command(f"{number} hello", user="U0SENDER").json()
    assert reply["response_type"] == "ephemeral" and "not allowed to send" in reply["text"]
    allowed = new_number()
    strict.command(f"{allowed} hello", user="U0OTHER")
    wait_outcome(slack, allowed)
    assert everything_about(slack, sociocs, number) == []
    assert "refused: user U0SENDER is not allowed" in strict.logs()


def test_members_of_an_allowed_user_group_may_send(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    grouped = make_bot(ALLOWED_USERGROUP_IDS="S0SUPPORT")
    before = len(slack.calls_to("usergroups.users.list"))
    refused = new_number()
    assert "not allowed" in grouped.command(f"{refused} hi", user="U0SENDER").json()["text"]
    for _ in range(2):
        number = new_number()
        grouped.command(f"{number} hi", user="U0AGENT")
        wait_outcome(slack, number)
    assert len(slack.calls_to("usergroups.users.list")) - before == 1  # membership is cached
    assert everything_about(slack, sociocs, refused) == []


def test_only_allowed_channels(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    strict = make_bot(ALLOWED_CHANNEL_IDS="C0SUPPORT")
    number = new_number()
    reply = strict.command(f"{number} hi", channel="C0GENERAL").json()
    assert "may not be used in this conversation; it may be used in C0SUPPORT." in reply["text"]
    assert "may not be used" in strict.command("", channel="C0GENERAL").json()["text"]  # nor the form
    ok = new_number()
    strict.command(f"{ok} hi", channel="C0SUPPORT")
    wait_outcome(slack, ok)
    assert everything_about(slack, sociocs, number) == []


def test_only_allowed_countries(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    strict = make_bot(ALLOWED_COUNTRIES="us,CA")
    reply = strict.command("+44 20 7946 0958, +16175550150 hello").json()
    assert "+442079460958 is in GB: this bot may only text CA, US." in reply["text"]
    settle(strict, slack)
    assert everything_about(slack, sociocs, "+16175550150") == []
    assert everything_about(slack, sociocs, "+442079460958") == []


def accepted(bot: RunningBot, slack: SlackStandin, text: str, number: str, user: str = "U0SENDER") -> None:
    """A command Slack gets an empty answer for, whose summary is then posted (so it is recorded)."""
    assert bot.command(text, user=user).text == ""
    slack.wait_for(lambda calls: parents_for(calls, number))


def refused_privately(bot: RunningBot, slack: SlackStandin, text: str, user: str = "U0SENDER") -> str:
    """The rate limit is counted before Slack's answer (the send is recorded first): the refusal is the
    command's own private answer, and nothing is posted."""
    name = f"refused-{new_number()}"
    answer = bot.command(text, user=user, response_name=name)
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert private_replies(slack, name) == []
    return str(answer.json()["text"])


def test_rate_limit_counts_messages_and_says_how_long_to_wait(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    limited = make_bot(RATE_LIMIT_PER_USER_PER_MINUTE="3")
    a, b, c, d = (new_number() for _ in range(4))
    accepted(limited, slack, f"{a}, {b} first two", a)
    refused = refused_privately(limited, slack, f"{c}, {d} two more")
    assert "limit of 3 messages a minute" in refused and "try again in" in refused
    accepted(limited, slack, f"{c} one more fits", c)
    assert "limit of 3" in refused_privately(limited, slack, f"{d} over")
    accepted(limited, slack, f"{d} another person is fine", d, user="U0OTHER")
    slack.wait_for(lambda calls: all(replies_for(calls, n) for n in (a, b, c, d)))
    assert [len(sociocs_bodies(sociocs, n)) for n in (a, b, c, d)] == [1, 1, 1, 1]
    # The refused commands posted nothing in the channel: one summary per accepted command.
    assert len(parents_for(slack.calls, d)) == 1 and len(parents_for(slack.calls, c)) == 1


# Retry ----------------------------------------------------------------------------------------------------


def test_retry_sends_once_and_reports_who_retried(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    sociocs.script(number, Reply(503, error_body("Try later.")))
    bot.command(f"{number} retry me")
    parent, outcome = wait_outcome(slack, number)
    assert "Outcome unknown" in outcome.args["text"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        presses = list(pool.map(lambda i: press_retry(bot, slack, outcome, "U0OTHER", f"retry-{number}-{i}"), range(4)))
    assert all(p.status_code == 200 for p in presses)
    retried = slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "retried" in c.args["text"]])
    assert retried[0].args["text"].startswith("<@U0OTHER> retried: :white_check_mark: Sent to " + number)
    assert retried[0].args["thread_ts"] == parent.response["ts"]
    slack.wait_for(lambda _: sum(len(private_replies(slack, f"retry-{number}-{i}")) for i in range(4)) == 3)
    settle(bot, slack)
    assert len(sociocs_bodies(sociocs, number)) == 2  # the first try and exactly one retry
    told = [c.args["text"] for i in range(4) for c in private_replies(slack, f"retry-{number}-{i}")]
    assert told == ["That message was already retried or sent, so nothing was sent again."] * 3
    marked = slack.wait_for(
        lambda _: [c for c in slack.calls_to("chat.update") if c.args.get("ts") == outcome.response["ts"]]
    )
    assert "Retried by <@U0OTHER>" in json.dumps(marked[0].args["blocks"])
    assert "retry_send" not in json.dumps(marked[0].args["blocks"])


def test_retry_obeys_the_guardrails_for_whoever_presses(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    strict = make_bot(ALLOWED_USER_IDS="U0SENDER")
    number = new_number()
    sociocs.script(number, Reply(500, error_body("Boom.")))
    strict.command(f"{number} fails once")
    _, outcome = wait_outcome(slack, number)
    press_retry(strict, slack, outcome, "U0OTHER", f"denied-{number}")
    (told,) = slack.wait_for(lambda _: private_replies(slack, f"denied-{number}"))
    assert "not allowed to send" in told.args["text"]
    settle(strict, slack)
    assert len(sociocs_bodies(sociocs, number)) == 1


# Crashes and replicas -------------------------------------------------------------------------------------


def test_a_send_cut_off_by_a_crash_is_reported_unknown_after_restart(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin
):
    settings = {"LEDGER_RECOVERY_SECONDS": "2", "SOCIOCS_TIMEOUT_SECONDS": "30"}
    first = make_bot(**settings)
    number = new_number()
    sociocs.script(number, Reply(delay=25))
    first.command(f"{number} caught in a crash")
    sociocs.wait_for(lambda _: sociocs_bodies(sociocs, number))
    parent = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "chat.postMessage" and number in str(c.args.get("text"))]
    )[0]
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    make_bot(**settings)  # same working directory, so the same SQLite ledger
    (report,) = slack.wait_for(lambda calls: replies_for(calls, number), timeout=30)
    text = report.args["text"]
    assert "Outcome unknown for " + number in text and "the bot restarted while sending" in text
    assert "check Sociocs before resending" in text
    assert report.args["thread_ts"] == parent.response["ts"]
    assert retry_button(report) is not None
    assert len(sociocs_bodies(sociocs, number)) == 1  # reported, never resent on its own


def test_two_processes_on_one_postgresql_share_the_rate_limit_and_the_retry_claim(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, pg_url: str
):
    from tests.test_ledger import fresh_schema

    shared = {"DATABASE_URL": fresh_schema(pg_url), "RATE_LIMIT_PER_USER_PER_MINUTE": "3"}
    a, b = make_bot(**shared), make_bot(**shared)
    n1, n2, n3, n4 = (new_number() for _ in range(4))
    accepted(a, slack, f"{n1}, {n2} via a", n1, user="U0AGENT")
    assert "limit of 3" in refused_privately(b, slack, f"{n3}, {n4} via b", user="U0AGENT")
    accepted(b, slack, f"{n3} via b", n3, user="U0AGENT")
    assert "limit of 3" in refused_privately(a, slack, f"{n4} via a again", user="U0AGENT")

    failing = new_number()
    sociocs.script(failing, Reply(500, error_body("Boom.")))
    a.command(f"{failing} fails on a")
    _, outcome = wait_outcome(slack, failing)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: press_retry(a if i % 2 else b, slack, outcome, "U0OTHER", f"pg-{i}"), range(4)))
    slack.wait_for(lambda calls: [c for c in replies_for(calls, failing) if "retried" in c.args["text"]])
    settle(a, slack)
    settle(b, slack)
    assert len(sociocs_bodies(sociocs, failing)) == 2


# History and logs -----------------------------------------------------------------------------------------


def test_history_lists_the_persons_last_sends(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    own = make_bot()
    sent, failed = new_number(), new_number()
    sociocs.script(failed, Reply(400, error_body("Invalid phone number.")))
    own.command(f"{sent} one", user="U0AGENT")
    own.command(f"{failed} two", user="U0AGENT")
    wait_outcome(slack, sent)
    wait_outcome(slack, failed)
    reply = own.command("history", user="U0AGENT").json()
    assert reply["response_type"] == "ephemeral"
    lines = reply["text"].splitlines()
    assert lines[0] == "*Your last messages*" and len(lines) == 3
    assert any(sent in ln and "sent (SM" in ln and "SMS (Twilio)" in ln for ln in lines)
    assert any(failed in ln and "failed (Invalid phone number.)" in ln for ln in lines)
    assert "<!date^" in reply["text"]
    assert "not sent any messages" in own.command("history", user="U0NOBODY").json()["text"]


def test_full_numbers_in_logs_only_when_asked(make_bot, slack: SlackStandin):
    loud = make_bot(LOG_PHONE_NUMBERS="true")
    number = new_number()
    loud.command(f"{number} log me")
    wait_outcome(slack, number)
    assert f"to={number}" in loud.logs()


@pytest.mark.parametrize("value", ["mysql://root@localhost/db", "not a url"])
def test_a_bad_database_url_is_a_configuration_error(make_bot, value: str):
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        make_bot(DATABASE_URL=value)


def test_a_private_outcome_keeps_its_retry_button(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    sociocs.script(number, Reply(503, error_body("Busy.")))
    bot.command(f"{number} from a private channel", channel="G0PRIVATE", response_name=f"priv-{number}")
    (private,) = slack.wait_for(lambda _: private_replies(slack, f"priv-{number}"))
    blocks = private.args["blocks"]
    buttons = [e for b in blocks for e in b.get("elements", []) if e.get("action_id") == "retry_send"]
    assert len(buttons) == 1 and "Outcome unknown" in private.args["text"]
    assert "Invite <@U0BOT>" in json.dumps(blocks)
    # Pressed from the private message: the new outcome comes back privately too.
    outcome = SlackCall(
        "chat.postMessage",
        {"channel": "G0PRIVATE", "text": private.args["text"], "blocks": blocks},
        response={"ts": "0"},
    )
    press_retry(bot, slack, outcome, "U0SENDER", f"priv-retry-{number}")
    (again,) = slack.wait_for(lambda _: private_replies(slack, f"priv-retry-{number}"))
    assert "<@U0SENDER> retried: :white_check_mark: Sent to " + number in again.args["text"]
    assert len(sociocs_bodies(sociocs, number)) == 2
