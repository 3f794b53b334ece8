"""Send later through the real Bolt app in process: `--at` in the sender's zone, the form's picker,
Cancel (sender, someone else, an admin, too late), `/sms scheduled` and the ledger's statuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.slack.listeners import send_later
from standins import SlackCall
from standins.sociocs import Reply, error_body
from tests.conftest import new_channel, new_number, parents_for, replies_for
from tests.test_e2e_guardrails import retry_press_payload
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_listeners import keystroke, submission, text_of, views
from tests.unit.test_trust_acks import slow_users_info

pytestmark = pytest.mark.anyio

SUMMER = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # Wed 30 Jun 2027, 12:00 in New York
WINTER = datetime(2027, 1, 13, 17, 0, tzinfo=UTC)  # Wed 13 Jan 2027, 12:00 in New York


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`clock(SUMMER)`: the moment the bot reads WHEN at."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(send_later, "now", lambda: moment)

    return set_to


def zones(app: AppUnderTest, **by_user: str) -> None:
    app.slack.workspace.zones.update(by_user)


def schedule_of(app: AppUnderTest, number: str) -> str:
    (body,) = app.sent_to(number)
    return str(body["schedule"])


def blocks_of(call: SlackCall | dict[str, Any]) -> list[dict[str, Any]]:
    blocks = (call.args if isinstance(call, SlackCall) else call).get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def cancel_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks_of(message)
        for element in [*block.get("elements", []), block.get("accessory") or {}]
        if isinstance(element, dict) and element.get("action_id") == "cancel_scheduled"
    ]


def outcome_reply(app: AppUnderTest, number: str) -> SlackCall:
    """The send's outcome reply (the first post in its thread naming the number)."""
    return replies_for(app.slack.calls, number)[0]


def reply_now(app: AppUnderTest, number: str) -> dict[str, Any]:
    return app.current(outcome_reply(app, number))


def press_cancel(app: AppUnderTest, number: str, user: str, name: str, *, ephemeral: bool = False) -> dict[str, Any]:
    reply = outcome_reply(app, number)
    (button,) = cancel_buttons(reply.args)
    return {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": user, "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": "t.cancel",
        "container": {
            "type": "message",
            "message_ts": reply.response["ts"],
            "channel_id": reply.args["channel"],
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": reply.args["channel"]},
        "message": {"ts": reply.response["ts"], "text": reply.args["text"], "blocks": reply.args.get("blocks")},
        "response_url": app.slack.response_url(name),
        "actions": [{"type": "button", "action_id": "cancel_scheduled", "block_id": "x", "value": button["value"]}],
    }


async def scheduled(app: AppUnderTest, number: str, when: str = "tomorrow 9am", user: str = "U0SENDER") -> None:
    acked(await app.command(f'{number} --at "{when}" See you then', user=user))
    await app.settled()
    assert app.sent_to(number), app.slack.calls[-3:]


# --at in the sender's zone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "when", "expected", "shown"),
    [
        (SUMMER, "2027-07-01 09:00", "2027-07-01T09:00:00-04:00", "Thu 1 Jul, 09:00 EDT"),
        (SUMMER, "tomorrow 9am", "2027-07-01T09:00:00-04:00", "Thu 1 Jul, 09:00 EDT"),
        (SUMMER, "in 2h", "2027-06-30T14:00:00-04:00", "Wed 30 Jun, 14:00 EDT"),
        (WINTER, "mon 14:00", "2027-01-18T14:00:00-05:00", "Mon 18 Jan, 14:00 EST"),
        (WINTER, "09:00", "2027-01-14T09:00:00-05:00", "Thu 14 Jan, 09:00 EST"),
    ],
)
async def test_at_is_read_in_new_york_with_its_summer_and_winter_offsets(
    make_app: Any, clock: Any, moment: datetime, when: str, expected: str, shown: str
):
    clock(moment)
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    number, channel = new_number(), new_channel()
    assert acked(await app.command(f'{number} --at "{when}" Your table is ready', channel=channel)) == {}
    await app.settled()
    assert schedule_of(app, number) == expected
    (parent,) = parents_for(app.slack.calls, number)
    epoch = int(datetime.fromisoformat(expected).timestamp())
    assert f"Scheduled for <!date^{epoch}^{{date_short_pretty}} at {{time}}|{shown}>" in text_of(parent)
    assert "<@U0SENDER> scheduled SMS (Twilio)" in text_of(parent)
    reply = reply_now(app, number)
    assert f"Scheduled for <!date^{epoch}^" in reply["text"] and f"to {number}. Sociocs message id `SM" in reply["text"]
    assert len(cancel_buttons(reply)) == 1
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "scheduled"
    history = acked(await app.command("history"))["text"]
    assert ":alarm_clock: scheduled" in history


async def test_a_sender_in_kolkata_gets_their_half_hour_offset_and_the_zone_is_cached(make_app: Any, clock: Any):
    clock(WINTER)
    app = await make_app()
    zones(app, U0OTHER="Asia/Kolkata")
    first, second = new_number(), new_number()
    await scheduled(app, first, "tomorrow 9am", user="U0OTHER")
    await scheduled(app, second, "2027-01-20 18:30", user="U0OTHER")
    assert schedule_of(app, first) == "2027-01-14T09:00:00+05:30"
    assert schedule_of(app, second) == "2027-01-20T18:30:00+05:30"
    assert len([c for c in app.slack.calls_to("users.info") if c.args.get("user") == "U0OTHER"]) == 1


@pytest.mark.parametrize(
    ("when", "says"),
    [("2027-06-29 09:00", "in the past"), ("2027-10-01 09:00", "more than 90 days"), ("in 100 days", "90 days")],
)
async def test_the_past_and_too_far_are_refused_privately_and_nothing_is_sent(
    make_app: Any, clock: Any, when: str, says: str
):
    clock(SUMMER)
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    number, channel = new_number(), new_channel()
    # The zone is looked up before the acknowledgement (first time or cached): the refusal is the answer.
    for _ in range(2):
        told = acked(await app.command(f'{number} --at "{when}" hi', channel=channel, response_name="later"))
        assert says in told["text"] and told["response_type"] == "ephemeral"
        await app.settled()
        assert not app.private("later") and not app.sent_to(number) and not app.posts(channel)
        assert await app.bot.ledger.history("U0SENDER") == []


async def test_an_unreadable_when_says_which_forms_work(make_app: Any):
    app = await make_app()
    number = new_number()
    body = acked(await app.command(f"{number} --at tomorrow 9am hi"))
    assert body["response_type"] == "ephemeral"
    assert "tomorrow 9am" in body["text"] and "in 2h" in body["text"] and "Quote WHEN" in body["text"]
    await app.settled()
    assert not app.sent_to(number)


async def test_guardrails_apply_when_scheduling(make_app: Any, clock: Any):
    clock(SUMMER)
    app = await make_app(ALLOWED_COUNTRIES="GB")
    zones(app, U0SENDER="America/New_York")
    number = new_number()
    told = acked(await app.command(f'{number} --at "tomorrow 9am" hi', response_name="guard"))
    await app.settled()
    assert "+1" in told["text"] and not app.private("guard") and not app.sent_to(number)


# The form's Send at picker -------------------------------------------------------------------------------


def with_picker(payload: dict[str, Any], epoch: int | None) -> dict[str, Any]:
    payload["view"]["state"]["values"]["send_at"] = {"send_at": {"type": "datetimepicker", "selected_date_time": epoch}}
    return payload


async def test_the_forms_picker_schedules_in_the_senders_zone_and_refuses_the_past_inline(make_app: Any):
    app = await make_app()
    zones(app, U0SENDER="Asia/Kolkata")
    acked(await app.command("", channel="C0SUPPORT"))
    await app.settled()
    (view,) = views(app)
    picker = next(b for b in view["blocks"] if b.get("block_id") == "send_at")
    assert picker["optional"] is True and picker["element"] == {"type": "datetimepicker", "action_id": "send_at"}
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    refused = acked(
        await app.interaction(with_picker(submission(view, to=new_number(), text="x", destination="C0GENERAL"), past))
    )
    assert refused["response_action"] == "errors" and "in the past" in refused["errors"]["send_at"]
    due = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    number = new_number()
    good = with_picker(submission(view, to=number, text="From the form", destination="C0GENERAL"), int(due.timestamp()))
    assert acked(await app.interaction(good)) == {}
    await app.settled()
    sent = datetime.fromisoformat(schedule_of(app, number))
    assert sent == due and sent.utcoffset() == timedelta(hours=5, minutes=30)
    empty = new_number()
    await app.interaction(with_picker(submission(view, to=empty, text="now", destination="C0GENERAL"), None))
    await app.settled()
    assert "schedule" not in app.sent_to(empty)[0]


def picker_of(view: dict[str, Any]) -> dict[str, Any]:
    element = next(b for b in view["blocks"] if b.get("block_id") == "send_at")["element"]
    assert isinstance(element, dict)
    return element


# `/sms NUMBER --at WHEN` with no message: the form, its Send at filled in -----------------------------------


@pytest.mark.parametrize(
    ("moment", "when", "expected"),
    [
        (SUMMER, "tomorrow 9am", "2027-07-01T09:00:00-04:00"),
        (WINTER, "mon 14:00", "2027-01-18T14:00:00-05:00"),
    ],
)
async def test_at_without_a_message_opens_the_form_with_send_at_filled_in_the_senders_zone(
    make_app: Any, clock: Any, moment: datetime, when: str, expected: str
):
    clock(moment)
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    number, channel = new_number(), new_channel()
    assert acked(await app.command(f'{number} --at "{when}"', channel=channel)) == {}
    await app.settled()
    (view,) = views(app)
    epoch = int(datetime.fromisoformat(expected).timestamp())
    assert picker_of(view) == {"type": "datetimepicker", "action_id": "send_at", "initial_date_time": epoch}
    assert number in json.dumps(next(b for b in view["blocks"] if b.get("block_id") == "to"))
    assert not app.sent_to(number) and not app.posts(channel)
    assert await app.bot.ledger.history("U0SENDER") == []


async def test_typing_in_the_prefilled_form_keeps_the_time_picked(make_app: Any, clock: Any):
    clock(SUMMER)
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    acked(await app.command(f'{new_number()} --at "tomorrow 9am"'))
    await app.settled()
    (view,) = views(app)
    picked = picker_of(view)["initial_date_time"] + 3600  # changed by the person, then they type
    state = with_picker(submission(view, to="", text="hi", destination=None), picked)["view"]
    typing = keystroke(view, state, "hi")
    assert acked(await app.interaction(typing)) == {}
    await app.settled()
    (updated,) = views(app, "views.update")
    assert picker_of(updated)["initial_date_time"] == picked


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("2027-06-29 09:00", "in the past"),
        ("in 0m", "less than a minute away"),
        ("2027-10-01 09:00", "more than 90 days"),
        ("someday", "I cannot read"),
    ],
)
async def test_at_without_a_message_refuses_as_a_send_would_and_opens_nothing(
    make_app: Any, clock: Any, when: str, says: str
):
    clock(SUMMER)
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    number, channel = new_number(), new_channel()
    told = acked(await app.command(f'{number} --at "{when}"', channel=channel, response_name="form-at"))
    assert told["response_type"] == "ephemeral" and says in told["text"]
    send = acked(await app.command(f'{number} --at "{when}" hi', channel=channel))
    assert told["text"] == send["text"]  # the same words a send gets
    await app.settled()
    assert views(app) == [] and not app.private("form-at") and not app.sent_to(number)


async def test_at_without_a_message_and_a_zone_slack_never_tells_is_refused_and_opens_nothing(make_app: Any):
    app = await make_app()
    slow_users_info(app, 6.0)  # longer than Slack waits for the acknowledgement
    answer = acked(await app.command(f'{new_number()} --at "in 3h"', response_name="form-no-zone"))
    assert answer["response_type"] == "ephemeral" and "could not read your time zone from Slack" in answer["text"]
    await app.settled()
    assert views(app) == [] and not app.private("form-no-zone")


# Cancel --------------------------------------------------------------------------------------------------


async def test_the_sender_cancels_and_the_thread_says_who(make_app: Any):
    app = await make_app()
    number = new_number()
    await scheduled(app, number)
    press = press_cancel(app, number, "U0SENDER", "c1")
    assert acked(await app.interaction(press)) == {}
    await app.settled()
    deletes = [c for c in app.sociocs.calls if c.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].path.startswith("/messages/scheduled/SM")
    said = [c.args["text"] for c in app.posts(outcome_reply(app, number).args["channel"])]
    assert any(t.startswith(":no_entry_sign: <@U0SENDER> cancelled the scheduled message to " + number) for t in said)
    reply = reply_now(app, number)
    assert cancel_buttons(reply) == [] and "Cancelled, cancelled by <@U0SENDER>" in reply["text"]
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "cancelled"
    # A second press (of the button as it was) finds nothing to cancel.
    await app.interaction({**press, "response_url": app.slack.response_url("c2")})
    await app.settled()
    assert "no longer scheduled" in app.private("c2")[0].args["text"]
    assert len([c for c in app.sociocs.calls if c.method == "DELETE"]) == 1


async def test_someone_else_may_not_cancel_but_an_admin_may(make_app: Any):
    app = await make_app(ADMIN_USER_IDS="U0ADMIN")
    number = new_number()
    await scheduled(app, number)
    admin_press = press_cancel(app, number, "U0ADMIN", "admin")
    await app.interaction(press_cancel(app, number, "U0OTHER", "other"))
    await app.settled()
    assert "Only the person who scheduled" in app.private("other")[0].args["text"]
    assert not [c for c in app.sociocs.calls if c.method == "DELETE"]
    assert len(cancel_buttons(reply_now(app, number))) == 1
    await app.interaction(admin_press)
    await app.settled()
    assert len([c for c in app.sociocs.calls if c.method == "DELETE"]) == 1
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "cancelled" and "<@U0ADMIN>" in (record.error or "")


async def test_once_the_time_has_passed_sociocs_refuses_and_the_button_goes(make_app: Any, clock: Any):
    app = await make_app()
    number = new_number()
    clock(datetime.now(UTC) - timedelta(hours=3))
    await scheduled(app, number, "in 2h")  # an hour ago, for the bot and Sociocs alike: time has passed
    await app.interaction(press_cancel(app, number, "U0SENDER", "late"))
    await app.settled()
    channel = outcome_reply(app, number).args["channel"]
    said = [c.args["text"] for c in app.posts(channel)]
    assert any("Too late to cancel the message to " + number in t and "being sent" in t for t in said)
    assert cancel_buttons(reply_now(app, number)) == []
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "sent"


# /sms scheduled ------------------------------------------------------------------------------------------


async def test_sms_scheduled_lists_what_is_pending_after_a_cancel_in_sociocs(make_app: Any):
    app = await make_app(ADMIN_USER_IDS="U0ADMIN")
    kept, gone, others = new_number(), new_number(), new_number()
    await scheduled(app, kept, "in 3h")
    await scheduled(app, gone, "in 2h")
    await scheduled(app, others, "in 4h", user="U0OTHER")
    (cancelled_there,) = [m for m, s in app.sociocs.scheduled.items() if s["to"] == gone]
    app.sociocs.cancel_in_app(cancelled_there)
    assert acked(await app.command("scheduled", response_name="mine")) == {}
    await app.settled()
    (listing,) = app.private("mine")
    assert kept in listing.args["text"] and gone not in listing.args["text"] and others not in listing.args["text"]
    assert len(cancel_buttons(listing.args)) == 1 and "<!date^" in listing.args["text"]
    statuses = {r.recipient: r.status.value for r in await app.bot.ledger.history("U0SENDER")}
    assert statuses == {kept: "scheduled", gone: "cancelled"}
    await app.command("scheduled", user="U0ADMIN", response_name="admin")
    await app.settled()
    (everyone,) = app.private("admin")
    assert kept in everyone.args["text"] and others in everyone.args["text"] and len(cancel_buttons(everyone.args)) == 2
    await app.command("scheduled", user="U0NOBODY", response_name="none")
    await app.settled()
    assert app.private("none")[0].args["text"] == "You have no scheduled messages waiting."


async def test_a_status_webhook_moves_a_scheduled_send_on_to_sent(make_app: Any):
    app = await make_app()
    number = new_number()
    await scheduled(app, number)
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.message_id is not None
    await app.bot.ledger.record_delivery(record.message_id, "delivered", error_code=None, error_message=None)
    claimed = await app.bot.ledger.claim_deliveries(record.message_id)
    assert claimed is not None and claimed[0].status.value == "sent" and claimed[0].delivery_status == "delivered"


async def test_a_dry_run_shows_the_schedule_in_the_request(make_app: Any, clock: Any):
    clock(WINTER)
    app = await make_app(SOCIOCS_DRY_RUN="true")
    zones(app, U0SENDER="America/New_York")
    number = new_number()
    acked(await app.command(f'{number} --at "tomorrow 9am" hi'))
    await app.settled()
    assert '"schedule": "2027-01-14T09:00:00-05:00"' in reply_now(app, number)["text"]
    assert not app.sent_to(number)


async def test_a_retry_keeps_the_scheduled_time_and_never_sends_at_once(make_app: Any, clock: Any):
    app = await make_app()
    zones(app, U0SENDER="America/New_York")
    number = new_number()
    app.sociocs.script(number, Reply(400, error_body("Try later.")))
    await scheduled(app, number, "in 2h")
    first = app.sent_to(number)[0]["schedule"]
    await app.interaction(retry_press_payload(outcome_reply(app, number), "U0SENDER", app.slack.response_url("r")))
    await app.settled()
    assert [b["schedule"] for b in app.sent_to(number)] == [first, first]
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "scheduled"


async def test_a_retry_after_the_time_has_passed_is_refused(make_app: Any, clock: Any):
    app = await make_app()
    number = new_number()
    app.sociocs.script(number, Reply(400, error_body("Try later.")))
    clock(datetime.now(UTC) - timedelta(hours=3))
    await scheduled(app, number, "in 2h")  # an hour ago
    await app.interaction(retry_press_payload(outcome_reply(app, number), "U0SENDER", app.slack.response_url("r2")))
    await app.settled()
    assert "has passed" in app.private("r2")[0].args["text"] and len(app.sent_to(number)) == 1
