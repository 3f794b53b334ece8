"""WhatsApp done right, end to end through a running bot: approved templates from the command and the
form (exact payload per provider), the 24-hour window, media only on SMS, and an "outside the window"
failure explained with a button to send a template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
    parents_for,
    replies_for,
    settle,
    start_bot,
    wait_outcome,
)
from tests.test_cli import run
from tests.test_e2e_command import sociocs_bodies
from tests.test_e2e_guardrails import press_retry
from tests.test_e2e_modal import block, open_from_command, submission, wait_view
from tests.test_e2e_webhooks import incoming, post_webhook, status

EXAMPLE = Path(__file__).resolve().parent.parent / "templates.example.toml"
TWLOWA_ID = "HX0123456789abcdef0123456789abcdef"
GSWA_ID = "b6c1a5e2-0b1e-4a57-9d7a-3f1f2c4e5a6b"


@pytest.fixture(scope="module")
def wa(slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """Both WhatsApp providers and SMS, the example catalogue, webhooks on (so the window is known)."""
    env = bot_env(
        slack,
        sociocs,
        SOCIOCS_CHANNEL_KEY_GSWA=CHANNEL_KEYS["gswa"][0],
        SOCIOCS_TEMPLATES_FILE=str(EXAMPLE),
        SOCIOCS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        INBOX_CHANNEL_ID=INBOX,
    )
    running = start_bot(env, slack, tmp_path_factory.mktemp("whatsapp"))
    yield running
    running.stop()


def wrote(bot: RunningBot, number: str, provider: str) -> None:
    """The customer writes on `provider`'s channel (Sociocs's incoming-message webhook)."""
    body = incoming(
        number, "hi there", f"IN{provider}{number}", provider=provider, channel_key=CHANNEL_KEYS[provider][0]
    )
    body["timestamp"] = None

    def shown(calls: list[SlackCall]) -> int:
        texts = [str(c.args.get("text")) for c in calls if c.method == "chat.postMessage"]
        return sum(1 for t in texts if number in t and "hi there" in t)

    before = shown(bot.slack.calls)
    assert post_webhook(bot, body).status_code == 200
    # Wait for the customer's message itself to be posted (the webhook is answered before it is), so a
    # later "nothing posted for this number" check does not see it arrive late.
    bot.slack.wait_for(lambda calls: shown(calls) > before or None, 15)


def private_answer(bot: RunningBot, slack: SlackStandin, text: str, number: str) -> str:
    before = len(parents_for(slack.calls, number))  # a customer's own message may be posted (inbox)
    answer = bot.command(text)
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    settle(bot, slack)
    assert len(parents_for(slack.calls, number)) == before
    return str(body["text"])


def blocks_of(call: SlackCall) -> str:
    blocks = call.args.get("blocks") or []
    return json.dumps(blocks if not isinstance(blocks, str) else json.loads(blocks))


# Templates from the command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "twlowa {n} --template order_ready Jane & Joe <3 | A-1234",
            {
                "provider": "twlowa",
                "channel_key": CHANNEL_KEYS["twlowa"][0],
                "template": {"id": TWLOWA_ID, "variables": {"1": "Jane & Joe <3", "2": "A-1234"}},
            },
        ),
        (
            "gswa {n} --template appointment_reminder --image https://example.com/c.png Jane | Mon 9:00 | R1",
            {
                "provider": "gswa",
                "channel_key": CHANNEL_KEYS["gswa"][0],
                "template": {
                    "id": GSWA_ID,
                    "variables": {
                        "Body": {"1": "Jane", "2": "Mon 9:00"},
                        "Buttons": {"1": "R1"},
                        "MEDIA_URL": "https://example.com/c.png",
                    },
                },
            },
        ),
    ],
)
def test_a_template_from_the_command(
    wa: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, text: str, expected: dict[str, Any]
) -> None:
    number = new_number()
    # Slack escapes &, < and > in command text; the customer gets them as typed.
    assert wa.command(text.format(n=number).replace("&", "&amp;").replace("<3", "&lt;3")).text == ""
    parent, reply = wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [{**expected, "to": number}]
    assert "Sent to" in reply.args["text"]
    shown = blocks_of(parent)
    name = "order_ready" if expected["provider"] == "twlowa" else "appointment_reminder"
    assert f"Template *{name}*" in shown
    if name == "order_ready":
        assert "Hi Jane &amp; Joe &lt;3, your order A-1234 is ready for pickup." in shown


def test_the_wrong_number_of_values_is_refused_naming_the_labels(wa: RunningBot, slack: SlackStandin, sociocs):
    number = new_number()
    text = private_answer(wa, slack, f"whatsapp {number} --template order_ready Jane Doe", number)
    assert "Customer name | Order number" in text and "You gave 1" in text
    assert sociocs_bodies(sociocs, number) == []


def test_an_unknown_template_is_refused_listing_the_providers_templates(wa: RunningBot, slack: SlackStandin, sociocs):
    number = new_number()
    text = private_answer(wa, slack, f"gswa {number} --template order_ready a | b", number)
    assert "no template 'order_ready' for WhatsApp (Gupshup)" in text and "appointment_reminder" in text
    assert sociocs_bodies(sociocs, number) == []


def test_help_templates_lists_them_with_their_labels(wa: RunningBot) -> None:
    text = wa.command("help templates").json()["text"]
    assert "`order_ready`: Customer name | Order number" in text
    assert "`appointment_reminder`: Customer name | Date and time | Reschedule link code" in text
    help_text = wa.command("help").json()["text"]
    assert "/sms help templates" in help_text and "`order_ready` (Customer name | Order number)" in help_text


# The 24-hour window ------------------------------------------------------------------------------------


def test_free_text_outside_the_window_is_refused_until_the_customer_writes(
    wa: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
) -> None:
    number = new_number()
    text = private_answer(wa, slack, f"whatsapp {number} Your order is ready", number)
    assert f"{number} has never written to this WhatsApp (Twilio) number" in text
    assert "within 24 h of the customer's last message" in text and "order_ready" in text
    assert sociocs_bodies(sociocs, number) == []
    # The same customer writes on another channel: still closed on this one.
    wrote(wa, number, "gswa")
    assert "has never written" in private_answer(wa, slack, f"whatsapp {number} Your order is ready", number)
    wrote(wa, number, "twlowa")
    assert wa.command(f"whatsapp {number} Your order is ready").text == ""
    wait_outcome(slack, number)
    assert [b.get("text") for b in sociocs_bodies(sociocs, number)] == ["Your order is ready"]


def test_without_webhooks_free_text_goes_with_a_note(bot: RunningBot, slack: SlackStandin, sociocs) -> None:
    number = new_number()
    assert bot.command(f"whatsapp {number} Hello").text == ""
    parent, _ = wait_outcome(slack, number)
    assert "WhatsApp accepts free text only within 24 h of the customer's last message" in blocks_of(parent)
    assert len(sociocs_bodies(sociocs, number)) == 1


def test_the_form_shows_the_window_for_one_recipient(wa: RunningBot, slack: SlackStandin) -> None:
    number = new_number()
    view = open_from_command(wa, slack, f"whatsapp {number}")
    assert "never written" in block(view, "window")["elements"][0]["text"]
    wrote(wa, number, "twlowa")
    view = open_from_command(wa, slack, f"whatsapp {number}")
    assert "ago: free text allowed until" in block(view, "window")["elements"][0]["text"]


# Media --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "label"),
    [
        ("--image https://x.test/a.png", "images"),
        ("--file https://x.test/a.pdf", "files"),
        ("--video https://x.test/a.mp4", "videos"),
    ],
)
def test_media_is_refused_on_whatsapp_naming_the_provider(wa: RunningBot, slack: SlackStandin, sociocs, option, label):
    number = new_number()
    wrote(wa, number, "twlowa")
    text = private_answer(wa, slack, f"whatsapp {number} {option} hello", number)
    assert f"WhatsApp (Twilio) takes no {label}" in text
    assert sociocs_bodies(sociocs, number) == []


def test_a_video_goes_by_sms(wa: RunningBot, slack: SlackStandin, sociocs) -> None:
    number = new_number()
    assert wa.command(f"sms {number} --video https://x.test/a.mp4 watch this").text == ""
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["video_url"] == "https://x.test/a.mp4"


# "Outside the window" failures -------------------------------------------------------------------------


def test_63016_is_explained_with_a_button_that_opens_the_form(wa: RunningBot, slack: SlackStandin) -> None:
    number = new_number()
    wrote(wa, number, "twlowa")
    assert wa.command(f"whatsapp {number} see you tomorrow", channel=new_channel()).text == ""
    _, reply = wait_outcome(slack, number)
    message_id = reply.args["text"].split("`")[1]
    failure = status(message_id, "failed", code="63016", message="Failed to send freeform message")
    assert post_webhook(wa, failure).status_code == 200
    (explained,) = slack.wait_for(
        lambda calls: [c for c in replies_for(calls, number) if "outside the 24-hour window" in c.args["text"]][-1:]
    )
    assert "error 63016" in explained.args["text"]
    button = next(
        b["accessory"]
        for b in json.loads(blocks_of(explained))
        if (b.get("accessory") or {}).get("action_id") == "send_template"
    )
    trigger = f"tpl.{number}"
    press = {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0SENDER", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": trigger,
        "container": {
            "type": "message",
            "message_ts": explained.response["ts"],
            "channel_id": explained.args["channel"],
        },
        "channel": {"id": explained.args["channel"]},
        "message": {"ts": explained.response["ts"], "thread_ts": explained.args.get("thread_ts"), "text": "x"},
        "actions": [{"type": "button", "action_id": "send_template", "block_id": "b", "value": button["value"]}],
    }
    assert wa.interaction(press).status_code == 200
    view = wait_view(slack, trigger)
    assert block(view, "provider")["element"]["initial_option"]["value"] == "twlowa"
    assert [o["value"] for o in block(view, "to")["element"]["initial_options"]] == [number]
    assert block(view, "template")["element"]["initial_option"]["value"] == "order_ready"  # the only one
    assert "text" not in [b.get("block_id") for b in view["blocks"]]


# Templates from the form -------------------------------------------------------------------------------


def choose(wa: RunningBot, slack: SlackStandin, view: dict[str, Any], provider: str, template: str, view_id: str):
    """Pick a template in the form: the bot redraws it with one input per value."""
    payload = submission(view, provider=provider)
    payload["type"] = "block_actions"
    payload["view"]["id"] = view_id
    payload["view"]["state"]["values"]["template"] = {
        "template": {"type": "static_select", "selected_option": {"value": template}}
    }
    payload["actions"] = [{"type": "static_select", "block_id": "template", "action_id": "template"}]
    assert wa.interaction(payload).status_code == 200
    (update,) = slack.wait_for(
        lambda _: [c for c in slack.calls_to("views.update") if c.args.get("view_id") == view_id]
    )
    assert update.response["ok"] is True
    return update.args["view"] if isinstance(update.args["view"], dict) else json.loads(update.args["view"])


@pytest.mark.parametrize(
    ("provider", "template", "values", "images", "expected"),
    [
        ("twlowa", "order_ready", ["Jane", "A-9"], "", {"id": TWLOWA_ID, "variables": {"1": "Jane", "2": "A-9"}}),
        (
            "gswa",
            "appointment_reminder",
            ["Jane", "Tue", "R2"],
            "https://x.test/h.png",
            {
                "id": GSWA_ID,
                "variables": {
                    "Body": {"1": "Jane", "2": "Tue"},
                    "Buttons": {"1": "R2"},
                    "MEDIA_URL": "https://x.test/h.png",
                },
            },
        ),
    ],
)
def test_a_template_from_the_form(
    wa: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, provider, template, values, images, expected
) -> None:
    number = new_number()
    view = open_from_command(wa, slack, f"{provider} {number}")
    assert [o["value"] for o in block(view, "template")["element"]["options"]] == [template]  # only this provider's
    redrawn = choose(wa, slack, view, provider, template, f"V{number[-6:]}")
    ids = [b.get("block_id") for b in redrawn["blocks"]]
    assert "text" not in ids and "segments" not in ids
    assert [i for i in ids if i.startswith("template_value_")] == [
        f"template_value_{i + 1}" for i in range(len(values))
    ]
    assert "approved text" in block(redrawn, "template_preview")["elements"][0]["text"]
    payload = submission(redrawn, provider=provider, to=number, images=images)
    state = payload["view"]["state"]["values"]
    del state["text"]
    state["template"] = {"template": {"type": "static_select", "selected_option": {"value": template}}}
    for i, value in enumerate(values):
        state[f"template_value_{i + 1}"] = {f"template_value_{i + 1}": {"type": "plain_text_input", "value": value}}
    answer = wa.interaction(payload)
    assert answer.status_code == 200 and answer.text == "", answer.text
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [
        {"provider": provider, "channel_key": CHANNEL_KEYS[provider][0], "to": number, "template": expected}
    ]


# The catalogue at start, and Retry -----------------------------------------------------------------------


def test_check_lists_the_templates_per_provider(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path) -> None:
    result = run(["check"], bot_env(slack, sociocs, SOCIOCS_TEMPLATES_FILE=str(EXAMPLE)), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   templates twlowa: order_ready\n" in result.stdout
    assert "ok   templates gswa: appointment_reminder\n" in result.stdout


def test_a_bad_catalogue_stops_the_bot_at_start(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path) -> None:
    bad = tmp_path / "templates.toml"
    bad.write_text(EXAMPLE.read_text().replace("your order {{2}} is", "your order is"))
    result = run([], bot_env(slack, sociocs, SOCIOCS_TEMPLATES_FILE=str(bad)), tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"sociocs-bot: configuration error: SOCIOCS_TEMPLATES_FILE {bad}: template order_ready: variables: "
        "['1', '2'] do not match the placeholders of text ({{1}})"
    ]


def test_retry_sends_the_same_template_again(wa: RunningBot, slack: SlackStandin, sociocs: SociocsStandin) -> None:
    number = new_number()
    sociocs.script(number, Reply(status=429, body={"status": "error", "errors": [{"msg": "Too many."}]}))
    sociocs.script(number, Reply(status=429), Reply(status=429))  # three refusals: the automatic retries give up
    assert wa.command(f"whatsapp {number} --template order_ready Jane | A-7").text == ""
    _, failure = wait_outcome(slack, number)
    assert "Not sent" in failure.args["text"]
    press_retry(wa, slack, failure, "U0SENDER", f"retry-{number}")
    slack.wait_for(lambda calls: [c for c in replies_for(calls, number) if "retried" in c.args["text"]])
    bodies = sociocs_bodies(sociocs, number)
    assert len(bodies) == 4 and all(b == bodies[0] for b in bodies)
    assert bodies[0]["template"] == {"id": TWLOWA_ID, "variables": {"1": "Jane", "2": "A-7"}}


def test_typing_a_value_fills_it_into_the_preview(wa: RunningBot, slack: SlackStandin) -> None:
    number = new_number()
    view = open_from_command(wa, slack, f"twlowa {number}")
    redrawn = choose(wa, slack, view, "twlowa", "order_ready", f"V{number[-6:]}a")
    payload = submission(redrawn, provider="twlowa", to=number)
    state = payload["view"]["state"]["values"]
    state["template"] = {"template": {"type": "static_select", "selected_option": {"value": "order_ready"}}}
    state["template_value_1"] = {"template_value_1": {"type": "plain_text_input", "value": "Jane <b>"}}
    payload["type"] = "block_actions"
    payload["view"]["id"] = view_id = f"V{number[-6:]}b"
    payload["actions"] = [{"type": "plain_text_input", "block_id": "template_value_1", "action_id": "template_value_1"}]
    assert wa.interaction(payload).status_code == 200
    (update,) = slack.wait_for(
        lambda _: [c for c in slack.calls_to("views.update") if c.args.get("view_id") == view_id]
    )
    updated = update.args["view"] if isinstance(update.args["view"], dict) else json.loads(update.args["view"])
    preview = block(updated, "template_preview")["elements"][0]["text"]
    assert "Hi Jane &lt;b&gt;, your order [Order number] is ready for pickup." in preview
    assert block(updated, "template_value_1")["element"]["initial_value"] == "Jane <b>"
