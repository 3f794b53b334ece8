"""The listeners through Bolt in process: the real app (`build_bot`), requests fed to `async_dispatch`,
the Slack and Sociocs stand-ins in this event loop. Each test checks the acknowledgement Slack gets and
what the bot then did in Slack and at Sociocs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.standins import SlackCall
from standins.sociocs import Reply, error_body
from tests.conftest import CHANNEL_KEYS, new_channel, new_number, parents_for, posts, replies_for
from tests.test_e2e_command import retry_button
from tests.test_e2e_guardrails import retry_press_payload
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio


def text_of(call: SlackCall) -> str:
    blocks = call.args.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    parts = [str(call.args.get("text") or "")]
    for b in blocks:
        parts.append(str((b.get("text") or {}).get("text") or ""))
        parts += [str(e.get("text") or "") for e in b.get("elements") or [] if isinstance(e, dict)]
    return "\n".join(parts)


def outcome(app: AppUnderTest, number: str) -> tuple[SlackCall, SlackCall]:
    """The summary and the outcome reply (as it reads now) for `number`."""
    (parent,) = parents_for(app.slack.calls, number)
    (reply,) = replies_for(app.slack.calls, number)
    assert reply.args["thread_ts"] == parent.response["ts"]
    return parent, reply


def retry_press(app: AppUnderTest, reply: SlackCall, user: str, name: str) -> dict[str, Any]:
    """The block_actions payload Slack posts when `user` presses the Retry button of `reply`."""
    return retry_press_payload(reply, user, app.slack.response_url(name))


def views(app: AppUnderTest, method: str = "views.open") -> list[dict[str, Any]]:
    found = [c.args["view"] for c in app.slack.calls_to(method)]
    return [v if isinstance(v, dict) else json.loads(v) for v in found]


def nothing_about(app: AppUnderTest, number: str) -> bool:
    return not [c for c in app.slack.calls if number in str(c.args)] and not app.sent_to(number)


# The slash command -----------------------------------------------------------------------------------------


async def test_a_command_is_acknowledged_silently_then_sent_and_reported_in_its_channel(make_app: Any):
    app = await make_app()
    number, channel = new_number(), new_channel()
    assert acked(await app.command(f"{number} Your order is ready", channel=channel)) == {}
    await app.settled()
    assert app.sent_to(number) == [
        {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": number, "text": "Your order is ready"}
    ]
    parent, reply = outcome(app, number)
    assert parent.args["channel"] == channel and "<@U0SENDER>" in text_of(parent)
    assert "1 segment, GSM-7 (19/160)" in text_of(parent)
    assert reply.args["text"].startswith(f":white_check_mark: Sent to {number}")
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "sent" and record.summary_ts == parent.response["ts"]


async def test_bad_input_is_answered_in_the_acknowledgement_and_nothing_happens(make_app: Any):
    app = await make_app()
    body = acked(await app.command("+1 617 555 hello there"))
    assert body["response_type"] == "ephemeral" and body["text"].startswith(":warning:")
    help_body = acked(await app.command("help"))
    assert help_body["response_type"] == "ephemeral" and "RECIPIENTS" in help_body["text"]
    await app.settled()
    assert app.slack.calls_to("chat.postMessage") == [] and app.sociocs.messages() == []


async def test_history_lists_the_persons_last_sends(make_app: Any):
    app = await make_app()
    sent, failed = new_number(), new_number()
    app.sociocs.script(failed, Reply(400, error_body("Invalid phone number.")))
    await app.command(f"{sent} one", user="U0AGENT")
    await app.command(f"{failed} two", user="U0AGENT")
    await app.settled()
    reply = acked(await app.command("history", user="U0AGENT"))
    lines = reply["text"].splitlines()
    assert reply["response_type"] == "ephemeral" and lines[0] == "*Your last messages*" and len(lines) == 3
    assert any(sent in ln and "sent (SM" in ln and "SMS (Twilio)" in ln for ln in lines)
    assert any(failed in ln and "failed (Invalid phone number.)" in ln for ln in lines)
    assert "<!date^" in reply["text"]
    assert "not sent any messages" in acked(await app.command("history", user="U0NOBODY"))["text"]


# Guardrails, through the command ------------------------------------------------------------------------


async def test_only_allowed_users_may_send(make_app: Any, caplog: pytest.LogCaptureFixture):
    app = await make_app(ALLOWED_USER_IDS="U0OTHER, U0AGENT")
    refused, allowed = new_number(), new_number()
    with caplog.at_level(logging.WARNING):
        reply = acked(await app.command(f"{refused} hello", user="U0SENDER"))
    assert reply["response_type"] == "ephemeral" and "not allowed to send" in reply["text"]
    assert "refused: user U0SENDER is not allowed" in caplog.text
    assert acked(await app.command(f"{allowed} hello", user="U0OTHER")) == {}
    await app.settled()
    outcome(app, allowed)
    assert nothing_about(app, refused)


async def test_members_of_an_allowed_user_group_may_send_and_membership_is_cached(make_app: Any):
    app = await make_app(ALLOWED_USERGROUP_IDS="S0SUPPORT")
    refused = new_number()
    assert "not allowed" in acked(await app.command(f"{refused} hi", user="U0SENDER"))["text"]
    for _ in range(2):
        number = new_number()
        assert acked(await app.command(f"{number} hi", user="U0AGENT")) == {}
        await app.settled()
        outcome(app, number)
    assert len(app.slack.calls_to("usergroups.users.list")) == 1
    assert nothing_about(app, refused)


async def test_only_allowed_channels_for_the_command_and_the_form(make_app: Any):
    app = await make_app(ALLOWED_CHANNEL_IDS="C0SUPPORT")
    number, ok = new_number(), new_number()
    reply = acked(await app.command(f"{number} hi", channel="C0GENERAL"))
    assert "may not be used in this conversation; it may be used in C0SUPPORT." in reply["text"]
    assert "may not be used" in acked(await app.command("", channel="C0GENERAL"))["text"]  # nor the form
    assert acked(await app.command(f"{ok} hi", channel="C0SUPPORT")) == {}
    await app.settled()
    outcome(app, ok)
    assert nothing_about(app, number) and app.slack.calls_to("views.open") == []


async def test_only_allowed_countries(make_app: Any):
    app = await make_app(ALLOWED_COUNTRIES="us,CA")
    reply = acked(await app.command("+44 20 7946 0958, +16175550150 hello"))
    assert "+442079460958 is in GB: this bot may only text CA, US." in reply["text"]
    await app.settled()
    assert nothing_about(app, "+16175550150") and nothing_about(app, "+442079460958")


async def test_rate_limit_counts_messages_and_says_how_long_to_wait(make_app: Any):
    app = await make_app(RATE_LIMIT_PER_USER_PER_MINUTE="3")
    a, b, c, d = (new_number() for _ in range(4))
    assert acked(await app.command(f"{a}, {b} first two")) == {}
    refused = acked(await app.command(f"{c}, {d} two more", response_name="over"))
    assert refused["response_type"] == "ephemeral"
    assert "limit of 3 messages a minute" in refused["text"] and "try again in" in refused["text"]
    assert acked(await app.command(f"{c} one more fits")) == {}
    assert "limit of 3" in acked(await app.command(f"{d} over"))["text"]
    assert acked(await app.command(f"{d} another person is fine", user="U0OTHER")) == {}
    await app.settled()
    assert [len(app.sent_to(n)) for n in (a, b, c, d)] == [1, 1, 1, 1]
    assert len(parents_for(app.slack.calls, d)) == 1 and len(parents_for(app.slack.calls, c)) == 1
    assert app.private("over") == []


# Settings that change what is sent ------------------------------------------------------------------------


async def test_allowed_number_types_lets_an_admin_allow_toll_free(make_app: Any):
    app = await make_app(ALLOWED_NUMBER_TYPES="Mobile, FIXED_LINE,fixed_line_or_mobile , toll_free")
    assert acked(await app.command("+1 800 555 1212 call us back")) == {}
    assert "premium-rate" in acked(await app.command("+1 900 555 1212 still not"))["text"]
    await app.settled()
    assert app.sent_to("+18005551212")[0]["text"] == "call us back"


async def test_national_number_with_default_region(make_app: Any):
    app = await make_app(DEFAULT_REGION="us")
    number = new_number()
    assert acked(await app.command(f"({number[2:5]}) {number[5:8]}-{number[8:]} local format")) == {}
    await app.settled()
    assert app.sent_to(number)[0]["to"] == number


async def test_wrong_api_key_is_reported_as_an_admin_problem(make_app: Any, caplog: pytest.LogCaptureFixture):
    app = await make_app(SOCIOCS_API_KEY="test-user:not-the-password")
    number = new_number()
    with caplog.at_level(logging.DEBUG):
        await app.command(f"{number} hello")
        await app.settled()
    _, reply = outcome(app, number)
    text = reply.args["text"]
    assert "Not sent" in text and "(HTTP 401)" in text and "tell an admin to check SOCIOCS_API_KEY" in text
    assert "not-the-password" not in text and "not-the-password" not in caplog.text


async def test_unreachable_sociocs_is_a_failure_that_sent_nothing(make_app: Any, monkeypatch: pytest.MonkeyPatch):
    from tests.conftest import free_port

    monkeypatch.setattr("bot.sending.backoff", lambda attempt, retry_after: 0.0)  # the waits: test_sending.py
    app = await make_app(SOCIOCS_BASE_URL=f"http://127.0.0.1:{free_port()}")
    number = new_number()
    await app.command(f"{number} hello")
    await app.settled()
    _, reply = outcome(app, number)
    assert "could not connect to Sociocs" in reply.args["text"] and "nothing was sent" in reply.args["text"]
    assert retry_button(reply) is not None


async def test_dry_run_shows_the_request_and_sends_nothing(make_app: Any):
    app = await make_app(SOCIOCS_DRY_RUN="true")
    number = new_number()
    await app.command(f"{number} --name Bo just testing")
    await app.settled()
    parent, reply = outcome(app, number)
    assert app.sent_to(number) == [] and "Dry run: nothing is sent to Sociocs." in text_of(parent)
    text = reply.args["text"]
    assert "Dry run: not sent" in text and '"text": "just testing"' in text and '"name": "Bo"' in text
    assert CHANNEL_KEYS["twlo"][0] not in text


async def test_a_timeout_is_unknown_not_a_failure_and_is_not_tried_again(make_app: Any):
    app = await make_app(SOCIOCS_TIMEOUT_SECONDS="0.3")
    number = new_number()
    app.sociocs.script(number, Reply(delay=0.8))
    await app.command(f"{number} slow one")
    await app.settled()
    _, reply = outcome(app, number)
    assert "Outcome unknown" in reply.args["text"] and "did not answer within 0.3 s" in reply.args["text"]
    assert "check Sociocs before resending" in reply.args["text"] and len(app.sent_to(number)) == 1


@pytest.mark.parametrize("full", [False, True])
async def test_full_numbers_in_logs_only_when_asked(make_app: Any, caplog: pytest.LogCaptureFixture, full: bool):
    app = await make_app(LOG_PHONE_NUMBERS="true") if full else await make_app()
    number = new_number()
    with caplog.at_level(logging.INFO, logger="bot.send"):
        await app.command(f"{number} log me")
        await app.settled()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.send" and r.getMessage().startswith("send ")]
    assert (f"to={number}" in line) is full and (f"to={number[:5]}***{number[-4:]}" in line) is not full


# The Retry button (a block action) ---------------------------------------------------------------------


async def test_retry_sends_once_however_many_presses_and_says_who_retried(make_app: Any):
    app = await make_app()
    number = new_number()
    app.sociocs.script(number, Reply(503, error_body("Try later.")))
    await app.command(f"{number} retry me")
    await app.settled()
    _, reply = outcome(app, number)
    assert "Outcome unknown" in reply.args["text"]
    for i in range(3):
        assert acked(await app.interaction(retry_press(app, reply, "U0OTHER", f"press-{i}"))) == {}
    await app.settled()
    assert len(app.sent_to(number)) == 2  # the first try and exactly one retry
    (_, now) = outcome(app, number)
    assert now.args["text"].startswith("<@U0OTHER> retried: :white_check_mark: Sent to " + number)
    told = [c.args["text"] for i in range(3) for c in app.private(f"press-{i}")]
    assert told == ["That message was already retried or sent, so nothing was sent again."] * 2


async def test_retry_obeys_the_guardrails_for_whoever_presses(make_app: Any):
    app = await make_app(ALLOWED_USER_IDS="U0SENDER")
    number = new_number()
    app.sociocs.script(number, Reply(500, error_body("Boom.")))
    await app.command(f"{number} fails once")
    await app.settled()
    _, reply = outcome(app, number)
    await app.interaction(retry_press(app, reply, "U0OTHER", "denied"))
    await app.settled()
    (told,) = app.private("denied")
    assert "not allowed to send" in told.args["text"] and len(app.sent_to(number)) == 1


async def test_retry_rechecks_the_number_type_under_the_current_settings(make_app: Any, tmp_path: Any):
    ledger = f"sqlite:///{tmp_path}/shared-ledger.db"
    toll_free = "+18005550123"
    relaxed = await make_app(
        DATABASE_URL=ledger, ALLOWED_NUMBER_TYPES="mobile,fixed_line,fixed_line_or_mobile,toll_free"
    )
    relaxed.sociocs.script(toll_free, Reply(400, error_body("Try later.")))
    await relaxed.command(f"{toll_free} call us")
    await relaxed.settled()
    _, failed = outcome(relaxed, toll_free)
    strict = await make_app(DATABASE_URL=ledger)
    await strict.interaction(retry_press(strict, failed, "U0SENDER", "retry-type"))
    await strict.settled()
    (told,) = strict.private("retry-type")
    assert "+18005550123 is a toll-free number, which this bot does not text" in told.args["text"]
    assert len(strict.sent_to(toll_free)) == 1


# The compose form: shortcuts, a view submission, a block action --------------------------------------------


def submission(
    view: dict[str, Any], *, to: str, text: str, destination: str | None, user: str = "U0SENDER"
) -> dict[str, Any]:
    def plain(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    values: dict[str, Any] = {
        "provider": {"provider": {"type": "static_select", "selected_option": {"value": "twlo"}}},
        "to": {"to": plain(to)},
        "name": {"name": plain("")},
        "text": {"text": plain(text)},
        "images": {"images": plain("")},
        "file": {"file": plain("")},
        "destination": {"destination": {"type": "conversations_select", "selected_conversation": destination}},
    }
    return {
        "type": "view_submission",
        "team": {"id": "T0STANDIN", "domain": "standin"},
        "user": {"id": user, "name": "jane.sender", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "view": {**view, "id": "V0000001", "hash": "h1", "state": {"values": values}},
    }


def keystroke(view: dict[str, Any], state: dict[str, Any], text: str) -> dict[str, Any]:
    """What Slack posts when the person types `text` in the form's Message, the form's state being `state`."""
    return {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0SENDER", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": "t.typing",
        "view": {**state, "callback_id": view["callback_id"]},
        "actions": [{"type": "plain_text_input", "action_id": "text", "block_id": "text", "value": text}],
    }


async def test_the_form_opens_refuses_inline_and_sends_like_the_command(make_app: Any):
    app = await make_app()
    assert acked(await app.command("", channel="C0SUPPORT")) == {}
    await app.settled()
    (view,) = views(app)
    assert any(b.get("block_id") == "destination" for b in view["blocks"])
    nowhere = acked(await app.interaction(submission(view, to=new_number(), text="hi", destination=None)))
    assert nowhere == {"response_action": "errors", "errors": {"destination": "Choose where to post the result."}}
    bad = acked(await app.interaction(submission(view, to="12", text="", destination="C0GENERAL")))
    assert bad["response_action"] == "errors" and {"to", "text"} <= set(bad["errors"])
    number = new_number()
    good = await app.interaction(submission(view, to=number, text="From the form", destination="C0GENERAL"))
    assert acked(good) == {}
    await app.settled()
    parent, _ = outcome(app, number)
    assert parent.args["channel"] == "C0GENERAL" and app.sent_to(number)[0]["text"] == "From the form"
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.via == "modal-command"


async def test_typing_in_the_form_updates_its_segment_count(make_app: Any):
    app = await make_app()
    await app.interaction(
        {
            "type": "shortcut",
            "callback_id": "compose_sms",
            "trigger_id": "t.global",
            "team": {"id": "T0STANDIN"},
            "user": {"id": "U0SENDER"},
            "api_app_id": "A0STANDIN",
        }
    )
    await app.settled()
    (view,) = views(app)
    state = submission(view, to="", text="héllo 😀", destination=None)["view"]
    payload = keystroke(view, state, "héllo 😀")
    assert acked(await app.interaction(payload)) == {}
    await app.settled()
    (updated,) = views(app, "views.update")
    assert "UCS-2" in json.dumps(updated)


async def test_a_global_shortcut_from_someone_not_allowed_shows_why(make_app: Any):
    app = await make_app(ALLOWED_USER_IDS="U0OTHER")
    payload = {
        "type": "shortcut",
        "callback_id": "compose_sms",
        "trigger_id": "t.refused",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0SENDER"},
        "api_app_id": "A0STANDIN",
    }
    assert acked(await app.interaction(payload)) == {}
    await app.settled()
    (view,) = views(app)
    assert "not allowed to send" in json.dumps(view) and not any(b.get("type") == "input" for b in view["blocks"])


# Events -----------------------------------------------------------------------------------------------------


async def test_a_mention_in_a_customer_thread_is_sent_and_one_elsewhere_is_not(make_app: Any):
    app = await make_app()
    number, channel = new_number(), new_channel()
    await app.command(f"{number} Your table is ready", channel=channel)
    await app.settled()
    parent, _ = outcome(app, number)
    thread = str(parent.response["ts"])
    mention = {
        "type": "app_mention",
        "user": "U0OTHER",
        "channel": channel,
        "thread_ts": thread,
        "ts": "2.000001",
        "text": "<@U0BOT> We will hold it until 8",
        "team": "T0STANDIN",
    }
    assert (await app.event(mention)).status == 200
    await app.settled()
    assert [b["text"] for b in app.sent_to(number)] == ["Your table is ready", "We will hold it until 8"]
    replies = [c for c in posts(app.slack.calls) if c.args.get("thread_ts") == thread]
    assert any("We will hold it until 8" in text_of(c) for c in replies)
    elsewhere = {**mention, "thread_ts": "9.000001", "ts": "9.000002", "text": "<@U0BOT> hi"}
    assert (await app.event(elsewhere)).status == 200
    await app.settled()
    (whisper,) = app.slack.calls_to("chat.postEphemeral")
    assert "not a conversation with a customer" in whisper.args["text"] and len(app.sent_to(number)) == 2


async def test_a_retried_event_is_handled_once(make_app: Any):
    app = await make_app()
    number, channel = new_number(), new_channel()
    await app.command(f"{number} first", channel=channel)
    await app.settled()
    parent, _ = outcome(app, number)
    mention = {
        "type": "app_mention",
        "user": "U0OTHER",
        "channel": channel,
        "thread_ts": parent.response["ts"],
        "ts": "3.000001",
        "text": "<@U0BOT> once only",
        "team": "T0STANDIN",
    }
    for _ in range(3):
        assert (await app.event(mention, event_id="Ev0SAME")).status == 200
    await app.settled()
    assert [b["text"] for b in app.sent_to(number)] == ["first", "once only"]
