"""The compose modal and the shortcuts, end to end: signed interaction payloads into the running bot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from standins import SlackStandin, SociocsStandin
from tests.conftest import CHANNEL_KEYS, RunningBot, new_number, parents_for, replies_for, settle, wait_outcome

BLOCKS = ["provider", "to", "name", "text", "segments", "images", "file", "video", "attachments"]


def opened_views(slack: SlackStandin, trigger_id: str) -> list[dict[str, Any]]:
    return [c.args["view"] for c in slack.calls_to("views.open") if c.args.get("trigger_id") == trigger_id]


def wait_view(slack: SlackStandin, trigger_id: str) -> dict[str, Any]:
    (view,) = slack.wait_for(lambda _: opened_views(slack, trigger_id))
    return view if isinstance(view, dict) else json.loads(view)


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def initial(view: dict[str, Any], block_id: str) -> Any:
    element = block(view, block_id)["element"]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    if "initial_options" in element:  # the To typeahead: its chosen numbers, as they were typed
        return ", ".join(o["value"] for o in element["initial_options"])
    return element.get("initial_value", element.get("initial_conversation"))


def submission(
    view: dict[str, Any],
    *,
    provider: str = "twlo",
    to: str = "",
    name: str = "",
    text: str = "",
    images: str = "",
    file: str = "",
    destination: str | None = "C0GENERAL",
    user: str = "U0SENDER",
) -> dict[str, Any]:
    def plain(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    values: dict[str, Any] = {
        "provider": {"provider": {"type": "static_select", "selected_option": {"value": provider}}},
        "to": {"to": plain(to)},
        "name": {"name": plain(name)},
        "text": {"text": plain(text)},
        "images": {"images": plain(images)},
        "file": {"file": plain(file)},
    }
    if any(b.get("block_id") == "destination" for b in view["blocks"]):
        values["destination"] = {"destination": {"type": "conversations_select", "selected_conversation": destination}}
    return {
        "type": "view_submission",
        "team": {"id": "T0STANDIN", "domain": "standin"},
        "user": {"id": user, "name": "jane.sender", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": "view.trigger",
        "view": {**view, "id": "V0000001", "hash": "h1", "state": {"values": values}},
    }


def open_from_command(bot: RunningBot, slack: SlackStandin, text: str = "") -> dict[str, Any]:
    trigger = f"cmd.{new_number()}"
    body = {
        "command": "/sms",
        "text": text,
        "channel_id": "C0SUPPORT",
        "user_id": "U0SENDER",
        "team_id": "T0STANDIN",
        "response_url": slack.response_url("modal"),
        "trigger_id": trigger,
        "api_app_id": "A0STANDIN",
    }
    from urllib.parse import urlencode

    from tests.conftest import sign

    encoded = urlencode(body)
    response = bot.http.post(
        "/slack/events", content=encoded, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(encoded)}
    )
    assert response.status_code == 200 and response.text == ""
    return wait_view(slack, trigger)


def message_shortcut(text: str, ts: str, thread_ts: str | None = None, channel: str = "C0GENERAL") -> dict[str, Any]:
    message = {"type": "message", "user": "U0OTHER", "ts": ts, "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "message_action",
        "callback_id": "send_as_sms",
        "trigger_id": f"msg.{ts}",
        "action_ts": ts,
        "team": {"id": "T0STANDIN", "domain": "standin"},
        "user": {"id": "U0SENDER", "name": "jane.sender"},
        "channel": {"id": channel, "name": "general"},
        "message_ts": ts,
        "message": message,
        "response_url": "http://127.0.0.1:9/unused",
        "api_app_id": "A0STANDIN",
    }


# Opening -----------------------------------------------------------------------------------------------


def test_sms_alone_opens_the_form_with_a_destination_picker(bot: RunningBot, slack: SlackStandin):
    view = open_from_command(bot, slack)
    assert view["callback_id"] == "sms_compose" and view["type"] == "modal"
    assert [b.get("block_id") for b in view["blocks"]] == [*BLOCKS, "destination", "send_at", "save_contact"]
    for block_id in ("provider", "to", "name", "text", "images", "file", "destination"):
        assert block(view, block_id)["element"]["action_id"] == block_id
    provider = block(view, "provider")["element"]
    assert [(o["value"], o["text"]["text"]) for o in provider["options"]] == [
        ("twlo", "SMS (Twilio)"),
        ("twlowa", "WhatsApp (Twilio)"),
    ]
    assert initial(view, "provider") == "twlo"
    assert block(view, "destination")["element"]["type"] == "conversations_select"
    assert initial(view, "destination") == "C0SUPPORT"
    assert block(view, "text")["element"]["multiline"] is True
    assert "1,600" in block(view, "text")["hint"]["text"]
    assert json.loads(view["private_metadata"]) == {"v": 1, "origin": "command"}


def test_sms_with_numbers_prefills_to_and_provider(bot: RunningBot, slack: SlackStandin):
    view = open_from_command(bot, slack, "whatsapp +16175550101, +16175550102")
    assert initial(view, "to") == "+16175550101, +16175550102"
    assert initial(view, "provider") == "twlowa"
    assert "WhatsApp" in block(view, "segments")["elements"][0]["text"]


def test_message_shortcut_prefills_the_decoded_text_and_has_no_picker(bot: RunningBot, slack: SlackStandin):
    bot.interaction(message_shortcut("Fish &amp; chips at <https://ex.com/m|the menu> for <@U0OTHER>", "1700.000100"))
    view = wait_view(slack, "msg.1700.000100")
    assert initial(view, "text") == "Fish & chips at https://ex.com/m for @omar"
    assert "destination" not in [b.get("block_id") for b in view["blocks"]]
    assert json.loads(view["private_metadata"]) == {
        "v": 1,
        "origin": "message",
        "channel": "C0GENERAL",
        "thread_ts": "1700.000100",
    }


def test_global_shortcut_opens_with_a_picker_and_no_default(bot: RunningBot, slack: SlackStandin):
    bot.interaction(
        {
            "type": "shortcut",
            "callback_id": "compose_sms",
            "trigger_id": "global.1",
            "action_ts": "1",
            "team": {"id": "T0STANDIN"},
            "user": {"id": "U0SENDER"},
            "api_app_id": "A0STANDIN",
        }
    )
    view = wait_view(slack, "global.1")
    destination = block(view, "destination")["element"]
    assert "initial_conversation" not in destination and destination["default_to_current_conversation"] is True


# Submitting ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"to": "+1617555", "text": "hi"}, {"to": "+1617555 is too short to be a phone number."}),
        ({"to": "{n}", "text": ""}, {"text": "Nothing to send: write a message, or add an image or a file."}),
        (
            {"to": "{n}", "images": "ftp://x.example/a.png"},
            {"images": "The image ftp://x.example/a.png is not an http(s) link."},
        ),
        (
            {"to": "{n}", "file": "javascript:alert(1)", "text": "hi"},
            {"file": "The file javascript:alert(1) is not an http(s) link."},
        ),
        (
            {"to": "{n}", "images": "\n".join(f"https://x.example/{i}.png" for i in range(11))},
            {"images": "11 images is too many: at most 10."},
        ),
        (
            {"to": ",".join(f"+161755501{i:02d}" for i in range(11)), "text": "hi"},
            {"to": "11 recipients is too many: at most 10 per message."},
        ),
        (
            {"to": "{n}", "provider": "gswa", "text": "hi"},
            {"provider": "WhatsApp (Gupshup) is not set up here: an admin must set SOCIOCS_CHANNEL_KEY_GSWA."},
        ),
        (
            {"to": "{n}", "text": "x" * 1601},
            {"text": "The message is 1601 characters; SMS (Twilio) takes at most 1600."},
        ),
    ],
)
def test_invalid_submission_shows_inline_errors_and_sends_nothing(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, fields: dict[str, str], errors: dict[str, str]
):
    view = open_from_command(bot, slack)
    number = new_number()
    filled = {k: v.replace("{n}", number) for k, v in fields.items()}
    response = bot.interaction(submission(view, **filled))
    assert response.status_code == 200
    assert response.json() == {"response_action": "errors", "errors": errors}
    settle(bot, slack)
    assert [c for c in sociocs.messages() if number in str(c.body)] == []
    assert [c for c in slack.calls if number in json.dumps(c.args)] == []


def test_valid_submission_closes_the_form_and_reports_like_the_command(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    view = open_from_command(bot, slack)
    first, second = new_number(), new_number()
    response = bot.interaction(
        submission(
            view,
            to=f"{first}\n{second}",
            name="Jane Doe",
            text="Line one\nLine two <b> & 😀",
            images="https://cdn.example.com/a.png\nhttps://cdn.example.com/b.png",
            destination="C0SUPPORT",
        )
    )
    assert response.status_code == 200 and response.text == ""  # an empty ack closes the modal
    parent, reply = wait_outcome(slack, first)
    slack.wait_for(lambda calls: replies_for(calls, second))
    assert parent.args["channel"] == "C0SUPPORT" and second in parent.args["text"]
    assert reply.args["thread_ts"] == parent.response["ts"]
    for number in (first, second):
        assert [c.body for c in sociocs.messages() if c.body.get("to") == number] == [
            {
                "provider": "twlo",
                "channel_key": CHANNEL_KEYS["twlo"][0],
                "to": number,
                "name": "Jane Doe",
                "text": "Line one\nLine two <b> & 😀",
                "image_urls": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"],
            }
        ]


def test_message_shortcut_reports_in_the_source_thread(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    bot.interaction(message_shortcut("Ready for pickup", "1700.000200", thread_ts="1700.000001"))
    view = wait_view(slack, "msg.1700.000200")
    number = new_number()
    assert bot.interaction(submission(view, to=number, text="Ready for pickup")).text == ""
    summary = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.method == "chat.postMessage"
            and number in str(c.args.get("text"))
            and "sent" in str(c.args.get("text"))
        ]
    )
    outcome = slack.wait_for(
        lambda calls: [
            c for c in calls if c.method == "chat.postMessage" and "Sent to " + number in str(c.args.get("text"))
        ]
    )
    assert summary[0].args["thread_ts"] == "1700.000001" and summary[0].args["channel"] == "C0GENERAL"
    assert outcome[0].args["thread_ts"] == "1700.000001"
    assert parents_for(slack.calls, number) == []  # nothing top-level: it all stays in the source thread


def test_when_the_bot_cannot_post_the_person_gets_a_direct_message(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    view = open_from_command(bot, slack)
    number = new_number()
    bot.interaction(submission(view, to=number, text="private one", destination="G0PRIVATE"))
    direct = slack.wait_for(
        lambda calls: [
            c
            for c in calls
            if c.method == "chat.postMessage"
            and c.args.get("channel") == "U0SENDER"
            and number in str(c.args.get("text"))
        ]
    )
    assert "Sent to " + number in direct[0].args["text"] and "Invite <@U0BOT>" in direct[0].args["text"]
    assert len([c for c in sociocs.messages() if c.body.get("to") == number]) == 1


def test_typing_updates_the_segment_count(bot: RunningBot, slack: SlackStandin):
    view = open_from_command(bot, slack)
    payload = submission(view, text="Thanks 😀")
    payload["type"] = "block_actions"
    payload["view"]["id"] = "V0TYPING"
    payload["actions"] = [{"type": "plain_text_input", "block_id": "text", "action_id": "text", "value": "Thanks 😀"}]
    assert bot.interaction(payload).status_code == 200
    (update,) = slack.wait_for(
        lambda _: [c for c in slack.calls_to("views.update") if c.args.get("view_id") == "V0TYPING"]
    )
    assert update.args["hash"] == "h1"
    updated = update.args["view"]
    assert update.response["ok"] is True
    note = block(updated, "segments")["elements"][0]["text"]
    assert "1 segment, UCS-2 (9/70); UCS-2 because of 😀" in note


def test_opening_the_form_for_an_unconfigured_provider_is_refused(bot: RunningBot, slack: SlackStandin):
    number = new_number()
    reply = bot.command(f"gswa {number}").json()
    assert reply["response_type"] == "ephemeral"
    assert "SOCIOCS_CHANNEL_KEY_GSWA" in reply["text"]
    settle(bot, slack)
    assert [c for c in slack.calls_to("views.open") if number in json.dumps(c.args)] == []
