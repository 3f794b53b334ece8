"""The Home tab's *Your scheduled messages*: filled from the scheduling service, each with Cancel, and
refreshed when one of yours is scheduled or cancelled (a Cancel pressed on the Home tab included)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from standins import SlackStandin
from tests.conftest import new_number
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_send_later import cancel_buttons, scheduled

pytestmark = pytest.mark.anyio


async def open_home(app: AppUnderTest, user: str) -> dict[str, Any]:
    acked(await app.event({"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}))
    await app.settled()
    return app.slack.homes[user]


def home_cancel(app: AppUnderTest, user: str, send_id: str) -> dict[str, Any]:
    """A Cancel pressed on the Home tab: a view container, and no response_url (Slack gives none there)."""
    return {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": user, "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": "t.home",
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "blocks": app.slack.homes[user]["blocks"]},
        "actions": [{"type": "button", "action_id": "cancel_scheduled", "block_id": "x", "value": send_id}],
    }


def scheduled_part(home: dict[str, Any]) -> str:
    text = json.dumps(home["blocks"])
    start = text.find("Your scheduled messages")
    return "" if start < 0 else text[start:]


async def test_the_home_tab_lists_your_own_scheduled_messages_with_cancel(make_app: Any, slack: SlackStandin):
    app = await make_app(ADMIN_USER_IDS="U0SENDER")
    mine, later, theirs = new_number(), new_number(), new_number()
    await scheduled(app, mine, "in 3h")
    await scheduled(app, later, "in 5h")
    await scheduled(app, theirs, "in 4h", user="U0OTHER")
    home = await open_home(app, "U0SENDER")
    part = scheduled_part(home)
    # Yours, soonest first, each with its time for every reader and a Cancel button; an admin's Home
    # tab is theirs too (everyone's is `/sms scheduled`).
    assert mine in part and later in part and part.index(mine) < part.index(later) and theirs not in part
    assert "<!date^" in part and len(cancel_buttons(home)) == 2
    assert scheduled_part(await open_home(app, "U0NOBODY")) == ""  # nothing waiting: no section at all


async def test_scheduling_and_cancelling_from_the_home_tab_refresh_it(make_app: Any, slack: SlackStandin):
    app = await make_app()
    app.bot.home_refresh.delay = 0.05
    await open_home(app, "U0SENDER")
    number = new_number()
    await scheduled(app, number, "in 3h")
    await app.bot.home_refresh.flush()
    home = slack.homes["U0SENDER"]
    assert number in scheduled_part(home)
    (button,) = cancel_buttons(home)

    # Someone else's press (their Home tab shows it only if it were theirs; a stale view here) is
    # refused by direct message: a Home tab has no response_url.
    await app.interaction(home_cancel(app, "U0SENDER", button["value"]) | {"user": {"id": "U0OTHER"}})
    await app.settled()
    dms = [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == "U0OTHER"]
    assert dms and "Only the person who scheduled" in dms[-1].args["text"]
    assert not [c for c in app.sociocs.calls if c.method == "DELETE"]

    assert acked(await app.interaction(home_cancel(app, "U0SENDER", button["value"]))) == {}
    await app.settled()
    await app.bot.home_refresh.flush()
    assert len([c for c in app.sociocs.calls if c.method == "DELETE"]) == 1
    assert number not in scheduled_part(slack.homes["U0SENDER"])  # refreshed without it
    (record,) = await app.bot.ledger.history("U0SENDER")
    assert record.status.value == "cancelled"
    # The thread still says who cancelled it.
    said = [c.args["text"] for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert any(t.startswith(":no_entry_sign: <@U0SENDER> cancelled the scheduled message to " + number) for t in said)


async def test_a_home_tab_that_cannot_ask_the_ledger_still_publishes(make_app: Any, slack: SlackStandin):
    app = await make_app()
    await scheduled(app, new_number(), "in 3h")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database is down")

    app.bot.ledger.pending_scheduled = broken  # type: ignore[method-assign]
    home = await open_home(app, "U0SENDER")
    assert "could not be listed just now" in json.dumps(home["blocks"]) and "Your recent messages" in json.dumps(home)
