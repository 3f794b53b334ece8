"""Contacts with the other features: a held choice (several matches) sends exactly the original message
(template, video, schedule, media, --save), `--save` survives a Retry, `--save` with no message opens the
form with Save as contact ticked (and kept while typing), and `--at` works with names."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.draft import RawDraft
from bot.domain.held import raw_from_json, raw_to_json
from bot.domain.providers import Provider
from standins import SlackCall
from standins.sociocs import Reply, error_body
from tests.conftest import new_number, replies_for
from tests.test_e2e_contacts import unique_name
from tests.test_e2e_guardrails import retry_press_payload
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_listeners import keystroke, submission, views

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "templates.example.toml"


def test_a_held_choice_keeps_every_field_of_the_message():
    """Every RawDraft field but the recipients round-trips through the ledger's JSON: a field added to
    RawDraft later fails here until the held choice keeps it too."""
    raw = RawDraft(
        recipients=[],
        text="Your order",
        provider=Provider.TWLOWA,
        name="Jane",
        image_urls=["https://example.com/a.png", "https://example.com/b.png"],
        file_url="https://example.com/f.pdf",
        send_at=datetime(2027, 1, 14, 9, 0, tzinfo=ZoneInfo("America/New_York")),
        template="order_ready",
        template_values=["Jane", "A-1"],
        video_url="https://example.com/v.mp4",
        save_contact=True,
    )
    unset = [
        f.name for f in dataclasses.fields(RawDraft) if getattr(raw, f.name) == f.default and f.name != "recipients"
    ]
    assert unset == [], f"set every field in this test: {unset}"
    back = raw_from_json(json.loads(json.dumps(raw_to_json(raw))))
    for f in dataclasses.fields(RawDraft):
        if f.name != "recipients":
            mine, theirs = getattr(raw, f.name), getattr(back, f.name)
            assert (list(mine) if isinstance(mine, list | tuple) else mine) == (
                list(theirs) if isinstance(theirs, list | tuple) else theirs
            ), f.name
    assert back.send_at is not None and back.send_at.tzname() == "EST"  # the zone, not just an offset
    # A choice held before these fields were kept still reads.
    old = raw_from_json({"provider": "twlo", "text": "hi", "name": None, "image_urls": [], "file_url": None})
    assert old.send_at is None and old.template is None and not old.save_contact


def choice_offer(app: AppUnderTest, name: str) -> list[dict[str, Any]]:
    (offer,) = [c for c in app.private(name) if "contact_choice_" in json.dumps(c.args)]
    blocks = offer.args["blocks"]
    return next(b for b in blocks if b.get("type") == "actions")["elements"]


async def choose(app: AppUnderTest, buttons: list[dict[str, Any]], index: int, name: str) -> None:
    press = {
        "type": "block_actions",
        "user": {"id": "U0SENDER"},
        "team": {"id": "T0STANDIN"},
        "container": {"type": "message"},
        "response_url": app.slack.response_url(name),
        "actions": [{**buttons[index], "block_id": "contact_choice"}],
    }
    acked(await app.interaction(press))
    await app.settled()


def two_contacts(app: AppUnderTest, first: str) -> tuple[str, str, str]:
    family = unique_name(first)
    one, two = new_number(), new_number()
    app.sociocs.add_contact(one, f"{family} Ann")
    app.sociocs.add_contact(two, f"{family} Bob")
    return family, one, two


async def test_the_chosen_contact_gets_the_video_and_save(make_app: Any):
    app = await make_app()
    family, one, two = two_contacts(app, "Vid")
    acked(
        await app.command(
            f'"{family}" --video https://example.com/v.mp4 --save --image https://example.com/a.png Look',
            response_name="vid",
        )
    )
    await app.settled()
    await choose(app, choice_offer(app, "vid"), 1, "vid-press")
    assert app.sent_to(one) == []
    (body,) = app.sent_to(two)
    assert body["video_url"] == "https://example.com/v.mp4" and body["image_url"] == "https://example.com/a.png"
    assert body["contact_saving"] == {"save": True} and body["text"] == "Look" and body["name"] == f"{family} Bob"


async def test_the_chosen_contact_gets_the_template_and_no_text(make_app: Any):
    app = await make_app(SOCIOCS_TEMPLATES_FILE=str(EXAMPLE))
    family, one, _ = two_contacts(app, "Tpl")
    acked(await app.command(f'whatsapp "{family}" --template order_ready Jane Doe | A-1234', response_name="tpl"))
    await app.settled()
    assert "Template *order_ready*: Jane Doe | A-1234" in json.dumps(app.private("tpl")[-1].args["blocks"])
    await choose(app, choice_offer(app, "tpl"), 0, "tpl-press")
    (body,) = app.sent_to(one)
    assert body["template"] == {
        "id": "HX0123456789abcdef0123456789abcdef",
        "variables": {"1": "Jane Doe", "2": "A-1234"},
    }
    assert "text" not in body and body["provider"] == "twlowa"


async def test_save_survives_a_retry(make_app: Any):
    app = await make_app()
    number = new_number()
    app.sociocs.script(number, Reply(500, error_body("Server error.")))
    acked(await app.command(f'{number} --name "Jane Doe" --save Welcome'))
    await app.settled()
    outcome: SlackCall = replies_for(app.slack.calls, number)[0]
    await app.interaction(retry_press_payload(outcome, "U0SENDER", app.slack.response_url("retry-save")))
    await app.settled()
    first, again = app.sent_to(number)
    assert first["contact_saving"] == again["contact_saving"] == {"save": True}
    assert again["name"] == "Jane Doe" and again["text"] == "Welcome"


# `/sms NUMBER --save` with no message: the form, Save as contact ticked -----------------------------------


def save_box(view: dict[str, Any]) -> dict[str, Any]:
    element = next(b for b in view["blocks"] if b.get("block_id") == "save_contact")["element"]
    assert isinstance(element, dict) and element["type"] == "checkboxes" and element["action_id"] == "save_contact"
    return element


@pytest.mark.parametrize(
    "options",
    ["--save", '--name "Jane Doe" --save', '--save --at "tomorrow 9am"', "--save --"],
)
async def test_save_without_a_message_opens_the_form_with_save_as_contact_ticked(make_app: Any, options: str):
    app = await make_app()
    number = new_number()
    assert acked(await app.command(f"{number} {options}")) == {}
    await app.settled()
    (view,) = views(app)
    box = save_box(view)
    (option,) = box["options"]
    assert option["value"] == "save" and box["initial_options"] == [option]  # the very same option object
    assert number in json.dumps(next(b for b in view["blocks"] if b.get("block_id") == "to"))
    assert not app.sent_to(number)


async def test_without_save_the_form_opens_with_save_as_contact_unticked(make_app: Any):
    app = await make_app()
    acked(await app.command(f'{new_number()} --name "Jane Doe"'))
    await app.settled()
    (view,) = views(app)
    assert "initial_options" not in save_box(view)


def typing_with_box(view: dict[str, Any], ticked: bool) -> dict[str, Any]:
    """A keystroke in Message, with Save as contact ticked or not at that moment."""
    state = submission(view, to="", text="hi", destination=None)["view"]
    chosen = [{"value": "save", "text": {"type": "plain_text", "text": "x"}}] if ticked else []
    state["state"]["values"]["save_contact"] = {"save_contact": {"type": "checkboxes", "selected_options": chosen}}
    return keystroke(view, state, "hi")


@pytest.mark.parametrize(("typed", "ticked"), [("--save", True), ("--save", False), ("", True), ("", False)])
async def test_typing_in_the_form_keeps_save_as_contact_as_it_is(make_app: Any, typed: str, ticked: bool):
    """Ticked by `--save` or by hand, the box stays ticked while the person types; unticked stays unticked."""
    app = await make_app()
    acked(await app.command(f"{new_number()} {typed}"))
    await app.settled()
    (view,) = views(app)
    assert acked(await app.interaction(typing_with_box(view, ticked))) == {}
    await app.settled()
    (updated,) = views(app, "views.update")
    box = save_box(updated)
    assert box.get("initial_options") == (box["options"] if ticked else None)


# --at with contact names ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone_cached", [False, True])
async def test_at_with_a_name_and_a_number_schedules_both(make_app: Any, zone_cached: bool):
    app = await make_app()
    app.slack.workspace.zones["U0SENDER"] = "Asia/Kolkata"
    if zone_cached:
        await app.bot.zones.zone_of(app.bot.names.user, "U0SENDER")
    number, contact, name = new_number(), new_number(), unique_name("Later")
    app.sociocs.add_contact(contact, name)
    answer = acked(await app.command(f'"{name}", {number} --at "in 3h" See you then', response_name="at-names"))
    assert "Looking up" in answer["text"]
    await app.settled()
    (to_contact,), (to_number,) = app.sent_to(contact), app.sent_to(number)
    assert to_contact["schedule"] == to_number["schedule"] and to_contact["schedule"].endswith("+05:30")
    assert to_contact["name"] == name
    statuses = {r.recipient: r.status.value for r in await app.bot.ledger.history("U0SENDER")}
    assert statuses == {contact: "scheduled", number: "scheduled"}


async def test_at_with_names_refuses_an_unreadable_or_past_when(make_app: Any):
    app = await make_app()
    name = unique_name("Never")
    app.sociocs.add_contact(new_number(), name)
    answer = acked(await app.command(f'"{name}" --at "someday" hi', response_name="bad-when"))
    assert "Send at" in answer["text"] and "Looking up" not in answer["text"]
    # Past: the zone is looked up before the answer, so the refusal is the answer; nothing is held or sent.
    answer = acked(await app.command(f'"{name}" --at "2020-01-01 09:00" hi', response_name="past"))
    assert "in the past" in answer["text"] and "Looking up" not in answer["text"]
    await app.settled()
    assert not app.private("past") and not app.sociocs.messages()


async def test_a_held_choice_keeps_the_schedule_and_refuses_once_its_time_has_passed(make_app: Any, monkeypatch: Any):
    from bot.slack.listeners import send_later

    app = await make_app()
    app.slack.workspace.zones["U0SENDER"] = "America/New_York"
    family, one, _ = two_contacts(app, "When")
    acked(await app.command(f'"{family}" --at "in 2h" Your table is ready', response_name="held"))
    await app.settled()
    buttons = choice_offer(app, "held")
    assert ":alarm_clock: Scheduled for <!date^" in json.dumps(app.private("held")[-1].args["blocks"])
    await choose(app, buttons, 0, "held-press")
    (body,) = app.sent_to(one)
    assert body["schedule"].endswith(("-05:00", "-04:00"))
    (summary,) = [
        c
        for c in app.slack.calls_to("chat.postMessage")
        if one in str(c.args.get("text")) and not c.args.get("thread_ts")
    ]
    shown = json.dumps(summary.args.get("blocks"))
    assert "Scheduled for" in shown and ("EST" in shown or "EDT" in shown)

    # Another held choice, chosen after its time: refused, nothing sent, and it may be chosen again.
    family2, three, _ = two_contacts(app, "Late")
    acked(await app.command(f'"{family2}" --at "in 2h" Too late', response_name="late"))
    await app.settled()
    real_now = send_later.now
    monkeypatch.setattr(send_later, "now", lambda: real_now() + timedelta(hours=3))
    await choose(app, choice_offer(app, "late"), 0, "late-press")
    assert "in the past" in json.dumps([c.args for c in app.private("late-press")]) and app.sent_to(three) == []


async def test_typing_in_the_form_keeps_the_recipients_as_chosen(make_app: Any):
    """The To typeahead's choices (a contact with its name, a typed number) come back exactly as chosen."""
    app = await make_app()
    acked(await app.command(""))
    await app.settled()
    (view,) = views(app)
    contact, typed = new_number(), new_number()
    chosen = [
        {"value": f"{contact}|Jane Doe", "text": {"type": "plain_text", "text": f"Jane Doe ({contact})"}},
        {"value": typed, "text": {"type": "plain_text", "text": f"{typed} (the number as typed)"}},
    ]
    keystroke = typing_with_box(view, ticked=False)
    keystroke["view"]["state"]["values"]["to"] = {"to": {"type": "multi_external_select", "selected_options": chosen}}
    assert acked(await app.interaction(keystroke)) == {}
    await app.settled()
    (updated,) = views(app, "views.update")
    to = next(b for b in updated["blocks"] if b.get("block_id") == "to")["element"]
    assert [(o["value"], o["text"]["text"]) for o in to["initial_options"]] == [
        (c["value"], c["text"]["text"]) for c in chosen
    ]
