"""Contacts end to end (issue 14): names as recipients, the To typeahead, blocked numbers, block and
unblock, opt-outs, and the real sender (`user_id`), against a running bot over signed HTTP."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.standins.slack import options_problem
from standins import SlackCall, SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import (
    INBOX,
    WEBHOOK_SECRET,
    RunningBot,
    bot_env,
    new_channel,
    new_number,
    sign,
    start_bot,
    wait_outcome,
)
from tests.test_e2e_webhooks import incoming, post_webhook

ADMIN = "U0ADMIN"
MAPPED = "U0MAPPED"
BY_EMAIL = "U0EMAILED"
_names = itertools.count(1)


def unique_name(first: str) -> str:
    """A contact name no other test's search can match (the stand-in is shared by the session)."""
    return f"{first} Q{next(_names):03d}x{time.monotonic_ns() % 100000}"


@pytest.fixture(scope="module")
def cbot(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    slack.workspace.users.update({ADMIN: "ada.admin", MAPPED: "max.mapped", BY_EMAIL: "eve.email"})
    slack.workspace.emails[BY_EMAIL] = "Eve.Email@Example.com"
    sociocs.add_team_member(id="tm-eve", email="eve.email@example.com", name="Eve")
    running = start_bot(
        bot_env(
            slack,
            sociocs,
            ADMIN_USER_IDS=ADMIN,
            SOCIOCS_USER_MAP=f"{MAPPED}:tm-max",
            SOCIOCS_WEBHOOK_SECRET=WEBHOOK_SECRET,
            INBOX_CHANNEL_ID=INBOX,
        ),
        slack,
        tmp_path_factory.mktemp("contacts"),
    )
    yield running
    running.stop()


def privately(slack: SlackStandin, name: str, needle: str, timeout: float = 10) -> SlackCall:
    """The private message (through the command's response_url `name`) containing `needle`."""

    def found(calls: list[SlackCall]) -> SlackCall | None:
        hits = [c for c in calls if c.method == "response_url" and c.path == name and needle in json.dumps(c.args)]
        return hits[0] if hits else None

    return slack.wait_for(found, timeout)


def bodies(sociocs: SociocsStandin, number: str) -> list[dict[str, Any]]:
    return [c.body for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number]


def searches(sociocs: SociocsStandin, query: str) -> list[Any]:
    return [c for c in sociocs.calls if c.path == "/contacts/search" and c.body.get("query") == query]


# Names as recipients -------------------------------------------------------------------------------------


def test_a_name_with_one_match_is_sent_with_the_contacts_name(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number, name = new_number(), unique_name("Jane")
    sociocs.add_contact(number, name)
    response = cbot.command(f'"{name}" Your order is ready', response_name="c-one")
    assert response.status_code == 200
    assert "Looking up" in response.json()["text"]
    parent, reply = wait_outcome(slack, number)
    assert name in parent.args["text"] and "Sent to" in reply.args["text"]
    assert bodies(sociocs, number) == [
        {
            "provider": "twlo",
            "channel_key": "ck-twlo-test-0001",
            "to": number,
            "name": name,
            "text": "Your order is ready",
        }
    ]


def test_curly_quotes_and_a_bare_word_mixed_with_a_number(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    a, b, plain = new_number(), new_number(), new_number()
    first = unique_name("Curly")
    word = f"Zed{next(_names)}w{time.monotonic_ns() % 10000}"
    sociocs.add_contact(a, first)
    sociocs.add_contact(b, f"{word} Person")
    response = cbot.command(f"“{first}”, {word}, {plain} Closed today")
    assert response.status_code == 200
    for number in (a, b, plain):
        wait_outcome(slack, number)
        assert [x["text"] for x in bodies(sociocs, number)] == ["Closed today"]
    assert bodies(sociocs, plain)[0].get("name") is None


def test_several_matches_offer_buttons_and_the_choice_sends_once(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    family = unique_name("Smith")
    one, two = new_number(), new_number()
    sociocs.add_contact(one, f"{family} Ann")
    sociocs.add_contact(two, f"{family} Bob")
    cbot.command(f'"{family}" See you at 5', response_name="c-many")
    offer = privately(slack, "c-many", "contact_choice_")
    buttons = next(b for b in offer.args["blocks"] if b.get("type") == "actions")["elements"]
    labels = [b["text"]["text"] for b in buttons]
    assert labels[:2] == [f"{family} Ann ({one[:5]}***{one[-4:]})", f"{family} Bob ({two[:5]}***{two[-4:]})"]
    assert one not in json.dumps(offer.args) and bodies(sociocs, one) == bodies(sociocs, two) == []
    press = {
        "type": "block_actions",
        "user": {"id": "U0SENDER"},
        "team": {"id": "T0STANDIN"},
        "container": {"type": "message"},
        "response_url": slack.response_url("c-many-press"),
        "actions": [{**buttons[1], "block_id": "contact_choice"}],
    }
    other = {**press, "user": {"id": "U0OTHER"}, "response_url": slack.response_url("c-many-other")}
    assert cbot.interaction(other).status_code == 200
    privately(slack, "c-many-other", "Only <@U0SENDER>")
    assert cbot.interaction(press).status_code == 200
    assert cbot.interaction(press).status_code == 200  # pressed twice: still sent once
    parent, _ = wait_outcome(slack, two)
    assert f"{family} Bob" in parent.args["text"]
    privately(slack, "c-many-press", "already")
    assert [b["text"] for b in bodies(sociocs, two)] == ["See you at 5"] and bodies(sociocs, one) == []


def test_an_unknown_name_is_refused_naming_it(cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin) -> None:
    typed = unique_name("Nobody").replace(" ", "")
    cbot.command(f"{typed} hello", response_name="c-none")
    told = privately(slack, "c-none", "No Sociocs contact matches")
    assert typed in told.args["text"]


def test_contact_search_down_refuses_the_name_and_numbers_still_go(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number = new_number()
    sociocs.script_search(Reply(status=500, body=error_body("Server error.")))
    cbot.command(f"Unreachable{next(_names)}, {number} We are open", response_name="c-down")
    privately(slack, "c-down", "contact search is unavailable")
    wait_outcome(slack, number)
    assert [b["text"] for b in bodies(sociocs, number)] == ["We are open"]


def test_a_one_letter_name_is_a_usage_error(cbot: RunningBot) -> None:
    reply = cbot.command("x hello").json()
    assert reply["response_type"] == "ephemeral" and "at least 2 characters" in reply["text"]


# The To typeahead --------------------------------------------------------------------------------------


def options_request(bot: RunningBot, value: str) -> Any:
    """Slack's block_suggestion for the compose form's To field, signed, as Slack posts it."""
    payload = {
        "type": "block_suggestion",
        "user": {"id": "U0SENDER", "team_id": "T0STANDIN"},
        "team": {"id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "token": "deprecated",
        "container": {"type": "view", "view_id": "V0COMPOSE"},
        "view": {"id": "V0COMPOSE", "type": "modal", "callback_id": "sms_compose", "private_metadata": "{}"},
        "action_id": "to",
        "block_id": "to",
        "value": value,
    }
    body = urlencode({"payload": json.dumps(payload)})
    started = time.monotonic()
    response = bot.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    )
    assert response.status_code == 200 and time.monotonic() - started < 3
    assert options_problem(response.json()) is None, response.json()
    return response.json()


def test_the_typeahead_answers_slacks_options_request(cbot: RunningBot, sociocs: SociocsStandin) -> None:
    number, name = new_number(), unique_name("Typeahead")
    sociocs.add_contact(number, name)
    answer = options_request(cbot, name[:14])
    assert answer == {
        "options": [
            {
                "text": {"type": "plain_text", "text": f"{name} ({number[:5]}***{number[-4:]})", "emoji": True},
                "value": f"{number}|{name}",
            }
        ]
    }
    typed = new_number()
    assert options_request(cbot, typed)["options"][0]["value"] == typed  # a number is its own option
    before = len(searches(sociocs, name[:14]))
    options_request(cbot, name[:14])  # the same query again: answered from the cache
    assert len(searches(sociocs, name[:14])) == before


def test_the_typeahead_still_answers_when_the_search_hangs(cbot: RunningBot, sociocs: SociocsStandin) -> None:
    sociocs.script_search(Reply(delay=5))
    typed = new_number()
    assert [o["value"] for o in options_request(cbot, typed)["options"]] == [typed]


def test_the_form_sends_to_a_chosen_contact_with_its_name(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number, name = new_number(), unique_name("Formed")
    channel = new_channel()
    values = {
        "provider": {"provider": {"type": "static_select", "selected_option": {"value": "twlo"}}},
        "to": {"to": {"type": "multi_external_select", "selected_options": [{"value": f"{number}|{name}"}]}},
        "name": {"name": {"type": "plain_text_input", "value": None}},
        "text": {"text": {"type": "plain_text_input", "value": "From the form"}},
        "images": {"images": {"type": "plain_text_input", "value": None}},
        "file": {"file": {"type": "plain_text_input", "value": None}},
        "destination": {"destination": {"type": "conversations_select", "selected_conversation": channel}},
        "save_contact": {"save_contact": {"type": "checkboxes", "selected_options": [{"value": "save"}]}},
    }
    view = {
        "id": "V0FORM",
        "type": "modal",
        "callback_id": "sms_compose",
        "private_metadata": "{}",
        "state": {"values": values},
        "blocks": [],
    }
    response = cbot.interaction(
        {"type": "view_submission", "user": {"id": "U0SENDER", "team_id": "T0STANDIN"}, "view": view}
    )
    assert response.status_code == 200, cbot.logs()[-3000:]
    wait_outcome(slack, number)
    assert bodies(sociocs, number)[0] | {} == {
        "provider": "twlo",
        "channel_key": "ck-twlo-test-0001",
        "to": number,
        "name": name,
        "text": "From the form",
        "contact_saving": {"save": True},
    }


# Blocked numbers ---------------------------------------------------------------------------------------


def test_a_blocked_recipient_is_refused_privately_while_the_others_go(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    blocked, fine = new_number(), new_number()
    sociocs.add_contact(blocked, unique_name("Optedout"), blocked=True)
    cbot.command(f"{blocked}, {fine} Sale today", response_name="c-blocked")
    told = privately(slack, "c-blocked", "blocked in Sociocs: the customer opted out")
    assert blocked not in json.dumps(told.args)  # masked
    wait_outcome(slack, fine)
    assert bodies(sociocs, blocked) == [] and len(bodies(sociocs, fine)) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(status=503, body=error_body("Server error.")),
        Reply(status=429, body=error_body("Rate limit reached."), headers={"Retry-After": "1"}),
    ],
    ids=["5xx", "429"],
)
def test_a_failed_contact_lookup_lets_the_message_go_once_and_is_asked_again_next_time(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, refusal: Reply
) -> None:
    """The lookup before a send (#18) failing means Sociocs cannot say: the person's own message goes,
    once, and nothing is remembered, so the next send asks again and is refused for a blocked number."""
    number = new_number()
    sociocs.add_contact(number, unique_name("Flaky"), blocked=True)
    sociocs.script_lookup(number, refusal)
    cbot.command(f"{number} first")
    wait_outcome(slack, number)
    assert [b["text"] for b in bodies(sociocs, number)] == ["first"]
    cbot.command(f"{number} second", response_name=f"c-again-{number}")
    privately(slack, f"c-again-{number}", "blocked in Sociocs: the customer opted out")
    assert [b["text"] for b in bodies(sociocs, number)] == ["first"]
    digits = number.lstrip("+")
    assert [c.path for c in sociocs.calls if digits in c.path] == [f"/contacts/{digits}"] * 2


def test_block_and_unblock_by_an_admin_and_refused_for_others(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number, channel = new_number(), new_channel()
    refused = cbot.command(f"block {number}", user="U0SENDER").json()
    assert refused["response_type"] == "ephemeral" and "Only admins" in refused["text"]
    assert cbot.command(f"block {number}", user=ADMIN, channel=channel).status_code == 200
    line = slack.wait_for(
        lambda calls: next(
            (c for c in calls if c.method == "chat.postMessage" and c.args.get("channel") == channel), None
        )
    )
    assert f"<@{ADMIN}> blocked *{number}* in Sociocs" in line.args["text"]
    digits = number.lstrip("+")
    assert sociocs.contacts_data.contacts[digits]["is_blocked"] == 1
    assert [c.path for c in sociocs.calls if digits in c.path] == [f"/contacts/block/{digits}"]
    cbot.command(f"{number} Are you there?", response_name="c-after-block")
    privately(slack, "c-after-block", "blocked in Sociocs")  # the bot's cache follows its own block at once
    cbot.command(f"unblock {number}", user=ADMIN, channel=channel)
    slack.wait_for(
        lambda calls: any("unblocked" in str(c.args.get("text")) for c in calls if c.args.get("channel") == channel)
    )
    assert sociocs.contacts_data.contacts[digits]["is_blocked"] == 0
    cbot.command(f"{number} Welcome back")
    wait_outcome(slack, number)


def test_stop_is_marked_with_a_block_button_for_admins(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number = new_number()
    assert post_webhook(cbot, incoming(number, " Stop ", f"in-{number}")).status_code == 200
    post = slack.wait_for(
        lambda calls: next(
            (c for c in calls if c.method == "chat.postMessage" and number in str(c.args.get("text"))), None
        )
    )
    blocks = post.args["blocks"]
    assert any("Opt-out" in json.dumps(b) for b in blocks)
    button = next(e for b in blocks if b.get("block_id") == "opt_out" for e in b["elements"])
    press = {
        "type": "block_actions",
        "user": {"id": "U0SENDER"},
        "team": {"id": "T0STANDIN"},
        "container": {"type": "message", "channel_id": INBOX},
        "channel": {"id": INBOX},
        "message": {"ts": post.response["ts"]},
        "response_url": slack.response_url("c-stop-other"),
        "actions": [{**button, "block_id": "opt_out"}],
    }
    cbot.interaction(press)
    privately(slack, "c-stop-other", "Only admins")
    assert sociocs.contacts_data.contacts.get(number.lstrip("+")) is None
    cbot.interaction({**press, "user": {"id": ADMIN}, "response_url": slack.response_url("c-stop-admin")})
    slack.wait_for(lambda calls: any("blocked *" + number in str(c.args.get("text")) for c in calls))
    assert sociocs.contacts_data.contacts[number.lstrip("+")]["is_blocked"] == 1
    # Not every message containing the word is an opt-out.
    other = new_number()
    post_webhook(cbot, incoming(other, "please stop by tomorrow", f"in-{other}"))
    later = slack.wait_for(
        lambda calls: next(
            (c for c in calls if c.method == "chat.postMessage" and other in str(c.args.get("text"))), None
        )
    )
    assert "Opt-out" not in json.dumps(later.args["blocks"])


# The real sender ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "expected"), [(MAPPED, "tm-max"), (BY_EMAIL, "tm-eve"), ("U0OTHER", None)])
def test_user_id_by_map_by_email_and_absent(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, user: str, expected: str | None
) -> None:
    number = new_number()
    cbot.command(f"{number} hi", user=user)
    wait_outcome(slack, number)
    assert bodies(sociocs, number)[0].get("user_id") == expected


def test_no_full_number_in_the_logs(cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin) -> None:
    number, name = new_number(), unique_name("Private")
    sociocs.add_contact(number, name)
    blocked = new_number()
    sociocs.add_contact(blocked, unique_name("Blocky"), blocked=True)
    cbot.command(f'"{name}", {blocked} hello')
    wait_outcome(slack, number)
    cbot.command(f"block {number}", user=ADMIN)
    slack.wait_for(lambda calls: any(f"blocked *{number}*" in str(c.args.get("text")) for c in calls))
    logs = cbot.logs()
    for full in (number, blocked, number.lstrip("+"), blocked.lstrip("+")):
        assert full not in logs
    assert "eve.email@example.com" not in logs.lower()


def test_a_number_of_a_known_contact_shows_its_name(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number, name = new_number(), unique_name("Known <@U0OTHER>")
    sociocs.add_contact(number, name)
    cbot.command(f"{number} Your table is ready")
    parent, _ = wait_outcome(slack, number)
    assert f"{name.replace('<', '&lt;').replace('>', '&gt;')} (*{number}*)" in parent.args["text"]
    assert bodies(sociocs, number)[0]["name"] == name
    unknown = new_number()
    cbot.command(f"{unknown} hi")
    parent, _ = wait_outcome(slack, unknown)
    assert f"to *{unknown}*" in parent.args["text"] and "name" not in bodies(sociocs, unknown)[0]
    for sent in (number, unknown):  # one lookup says the name and whether blocked (#18), then the message
        digits = sent.lstrip("+")
        assert [c.path for c in sociocs.calls if digits in c.path or (c.body or {}).get("to") == sent] == [
            f"/contacts/{digits}",
            "/message",
        ]


def test_a_recipient_blocked_since_is_not_retried(
    cbot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    from tests.test_e2e_guardrails import press_retry

    number = new_number()
    sociocs.script(number, Reply(status=500, body=error_body("Server error.")))
    cbot.command(f"{number} first try")
    _, reply = wait_outcome(slack, number)
    cbot.command(f"block {number}", user=ADMIN)  # through the bot: its isblocked cache follows at once
    slack.wait_for(lambda calls: any(f"blocked *{number}*" in str(c.args.get("text")) for c in calls))
    press_retry(cbot, slack, reply, "U0SENDER", "c-retry-blocked")
    privately(slack, "c-retry-blocked", "blocked in Sociocs")
    assert len(bodies(sociocs, number)) == 1
