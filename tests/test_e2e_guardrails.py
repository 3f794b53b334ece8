"""Guardrails and the ledger end to end: Retry, crash recovery, two replicas sharing the rate limit.

Each guardrail on its own (users, groups, channels, countries, the rate limit, Retry by someone not
allowed) is tested in process: tests/unit/test_guardrails.py and tests/unit/test_listeners.py.
"""

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
    new_number,
    parents_for,
    replies_for,
    settle,
    wait_outcome,
)
from tests.test_e2e_command import retry_button, sociocs_bodies


def retry_press_payload(outcome: SlackCall, user: str, response_url: str) -> dict[str, Any]:
    """The block_actions payload Slack posts when `user` presses the Retry button of `outcome`."""
    button = retry_button(outcome)
    assert button is not None
    return {
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
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": "retry_send", "block_id": "retry", "value": button["value"]}],
    }


def press_retry(bot: RunningBot, slack: SlackStandin, outcome: SlackCall, user: str, name: str) -> Any:
    return bot.interaction(retry_press_payload(outcome, user, slack.response_url(name)))


def private_replies(slack: SlackStandin, name: str) -> list[SlackCall]:
    return [c for c in slack.calls if c.method == "response_url" and c.path == name]


# Accepted or refused, as a bot process answers ------------------------------------------------------


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


# Configuration, private outcomes --------------------------------------------------------------------------


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
