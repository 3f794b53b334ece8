"""The five second-wave features together, in process: a scheduled template; a scheduled send with a
Slack attachment; a blocked recipient of a scheduled send; the 24-hour window judged for a scheduled
WhatsApp message; contacts' names in the inbox and on the Home tab; a STOP in a conversation's thread."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from standins import SlackStandin
from tests.conftest import CHANNEL_KEYS, new_channel, new_number
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_conversations_inbox import conversation, customer_writes
from tests.unit.test_media import JPEG, PUBLIC_URL, fetch, open_form
from tests.unit.test_media import submission as media_submission
from tests.unit.test_send_later import with_picker

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "templates.example.toml"
WEBHOOK_SECRET = "whsec-interplay"


async def said(app: AppUnderTest, text: str, name: str, **kw: Any) -> str:
    """`/sms text`: everything the sender was told (the answer and any private message after it)."""
    answer = acked(await app.command(text, response_name=name, **kw))
    await app.settled()
    return " ".join([str(answer.get("text", "")), *(str(c.args.get("text")) for c in app.private(name))])


def summary_of(app: AppUnderTest, number: str) -> dict[str, Any]:
    (call,) = [
        c
        for c in app.slack.calls_to("chat.postMessage")
        if number in str(c.args.get("text")) and not c.args.get("thread_ts")
    ]
    return app.current(call)


# Send later x templates, attachments, blocked numbers ----------------------------------------------------


async def test_a_scheduled_template_carries_template_and_schedule_and_no_text(make_app: Any):
    app = await make_app(SOCIOCS_TEMPLATES_FILE=str(EXAMPLE))
    app.slack.workspace.zones["U0SENDER"] = "America/New_York"
    number = new_number()
    await said(app, f'whatsapp {number} --template order_ready --at "in 3h" Jane Doe | A-1234', "tpl-at")
    (body,) = app.sent_to(number)
    assert body["template"] == {
        "id": "HX0123456789abcdef0123456789abcdef",
        "variables": {"1": "Jane Doe", "2": "A-1234"},
    }
    assert "text" not in body and body["provider"] == "twlowa"
    assert datetime.fromisoformat(body["schedule"]) - datetime.now(UTC) > timedelta(hours=2, minutes=58)
    shown = json.dumps(summary_of(app, number))
    assert "Scheduled for" in shown and "order_ready" in shown and "Hi Jane Doe, your order A-1234" in shown
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "scheduled"
    # On the Home tab it reads as the template, not as "(media)".
    acked(await app.event({"type": "app_home_opened", "user": "U0SENDER", "channel": "D0H", "tab": "home"}))
    await app.settled()
    assert "(template order_ready)" in json.dumps(app.slack.homes["U0SENDER"])


async def test_a_scheduled_form_send_with_a_slack_photo_keeps_its_link_until_after_the_send_time(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL, MEDIA_URL_TTL_SECONDS="3600")
    view = await open_form(app)
    number = new_number()
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    due = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    form = with_picker(media_submission(view, to=number, text="Your photo", uploads=[photo]), int(due.timestamp()))
    assert acked(await app.interaction(form)) == {}
    await app.settled()
    (body,) = app.sent_to(number)
    assert datetime.fromisoformat(body["schedule"]) == due and body["image_url"].startswith(f"{PUBLIC_URL}/media/")
    media_id = body["image_url"].rsplit("/", 1)[1].partition(".")[0]
    assert app.bot.media is not None
    row = await app.bot.media._store.get(media_id)
    assert row is not None and row.content == JPEG
    expires = row.expires_at.replace(tzinfo=UTC)
    assert abs(expires - (due + timedelta(hours=1))) < timedelta(seconds=5)  # the TTL runs from the send time
    assert (await fetch(app, body["image_url"])).content == JPEG  # and it is there already


async def test_a_blocked_recipient_of_a_scheduled_send_is_refused_when_scheduling(make_app: Any):
    app = await make_app()
    blocked, fine = new_number(), new_number()
    app.sociocs.add_contact(blocked, "Opted Out", blocked=True)
    told = await said(app, f'{blocked}, {fine} --at "in 3h" Reminder', "blocked-at")
    assert "blocked in Sociocs" in told and blocked not in told  # masked in what the sender is told
    assert app.sent_to(blocked) == [] and len(app.sent_to(fine)) == 1 and "schedule" in app.sent_to(fine)[0]
    statuses = {r.recipient: r.status.value for r in await app.bot.ledger.history("U0SENDER")}
    assert statuses == {blocked: "failed", fine: "scheduled"}
    # /sms scheduled lists only what will go.
    listing = await said(app, "scheduled", "blocked-list")
    assert fine in listing and blocked not in listing


# The 24-hour window, judged when scheduling ----------------------------------------------------------------


async def wrote(app: AppUnderTest, number: str, ago: timedelta, provider: str = "twlowa") -> None:
    at = (datetime.now(UTC) - ago).replace(tzinfo=None)
    await app.bot.ledger.note_customer_write(CHANNEL_KEYS[provider][0], number, at)


async def test_a_scheduled_whatsapp_free_text_needs_the_window_open_at_its_time(make_app: Any):
    app = await make_app(SOCIOCS_WEBHOOK_SECRET=WEBHOOK_SECRET, SOCIOCS_TEMPLATES_FILE=str(EXAMPLE))
    number = new_number()
    await wrote(app, number, timedelta(hours=23))  # open for about an hour more

    told = await said(app, f'whatsapp {number} --at "in 2h" See you', "closes")
    assert "closes at" in told and "before the scheduled time" in told and "order_ready" in told
    assert app.sent_to(number) == []

    await said(app, f'whatsapp {number} --at "in 30m" See you soon', "inside")
    assert [b["text"] for b in app.sent_to(number)] == ["See you soon"]

    never = new_number()
    told = await said(app, f'whatsapp {never} --at "in 30m" Hello', "never")
    assert "has never written" in told and app.sent_to(never) == []

    # A template is not bound by the window, scheduled or not.
    await said(app, f'whatsapp {never} --template order_ready --at "in 2h" Jane | A-1', "tpl")
    assert "template" in app.sent_to(never)[0]


# Contacts' names in the inbox and on the Home tab -----------------------------------------------------------


async def test_the_inbox_and_the_home_tab_show_a_contacts_name(make_app: Any, slack: SlackStandin):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    customer, name = new_number(), "Jane <@U0OTHER> Doe"
    await customer_writes(app, customer, "is my order ready?", name=name)
    contact, contact_name = new_number(), "Ann Contact"
    app.sociocs.add_contact(contact, contact_name)
    await said(app, f'"{contact_name}" Your order is ready', "to-contact", channel=new_channel())
    escaped = "Jane &lt;@U0OTHER&gt; Doe"

    acked(await app.command("inbox", response_name="inbox"))
    await app.settled()
    listing = json.dumps(app.private("inbox")[0].args["blocks"])
    assert f"*{escaped}* ({customer})" in listing and "<@U0OTHER>" not in listing

    acked(await app.event({"type": "app_home_opened", "user": "U0SENDER", "channel": "D0H", "tab": "home"}))
    await app.settled()
    home = json.dumps(slack.homes["U0SENDER"])
    assert f"*{escaped}* ({customer})" in home and "<@U0OTHER>" not in home
    assert f"{contact_name} ({contact})" in home  # your recent messages name the contact you sent to


# STOP in a conversation's thread ---------------------------------------------------------------------------


async def test_stop_in_a_conversation_thread_is_marked_and_blocks_in_that_thread(make_app: Any, slack: SlackStandin):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox, ADMIN_USER_IDS="U0ADMIN")
    number = new_number()
    await customer_writes(app, number, "hello")
    conv = await conversation(app, number)
    await customer_writes(app, number, "Stop.")
    replies = [c for c in app.posts(inbox) if c.args.get("thread_ts") == conv.head_ts]
    (stop,) = [r for r in replies if "Stop." in str(r.args.get("text"))]
    blocks = stop.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    (button,) = [e for b in blocks if b.get("block_id") == "opt_out" for e in b["elements"]]
    # The conversation goes on as a conversation: still open, the head's buttons intact.
    head = json.dumps(app.current(next(c for c in app.posts(inbox) if c.response["ts"] == conv.head_ts)))
    assert "assign_conversation" in head and "close_conversation" in head

    press = {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0ADMIN", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": "t.block",
        "container": {"type": "message", "message_ts": stop.response["ts"], "channel_id": inbox},
        "channel": {"id": inbox},
        "message": {"ts": stop.response["ts"], "thread_ts": conv.head_ts, "text": stop.args["text"]},
        "response_url": slack.response_url("stop-block"),
        "actions": [{**button, "block_id": "opt_out"}],
    }
    acked(await app.interaction(press))
    await app.settled()
    assert app.sociocs.contacts_data.contacts[number.lstrip("+")]["is_blocked"] == 1
    lines = [c for c in app.posts(inbox) if f"blocked *{number}*" in str(c.args.get("text"))]
    assert [c.args.get("thread_ts") for c in lines] == [conv.head_ts]  # said in the conversation's thread

    # From then on a send to the number, scheduled or not, is refused.
    told = await said(app, f'{number} --at "in 2h" Come back!', "after-stop")
    assert "blocked in Sociocs" in told and app.sent_to(number) == []
