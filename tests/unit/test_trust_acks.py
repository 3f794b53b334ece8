"""Nothing acknowledged is lost (in process): `--at` records before the acknowledgement even when the
sender's zone must be asked of Slack, and refuses when Slack cannot tell in time; a command's contact
names are held in the ledger before the acknowledgement, so names a gone process never settled are
told to their author by the next process's recovery sweep."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from standins import SlackCall
from tests.conftest import new_channel, new_number
from tests.test_e2e_contacts import unique_name
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio


def slow_users_info(app: AppUnderTest, seconds: float) -> list[str]:
    """users.info (the shared cache the zone comes from) answering after `seconds`; the users asked."""
    real = app.bot.names.user
    asked: list[str] = []

    async def slow(user_id: str) -> dict[str, Any] | None:
        asked.append(user_id)
        await asyncio.sleep(seconds)
        return await real(user_id)

    app.bot.names.user = slow  # type: ignore[method-assign]
    return asked


async def tell_lost_names(bot: Any) -> None:
    """The recovery sweep's telling of lost names (imported late: it is what the tests are about)."""
    from bot.slack.recovery import tell_lost_names as tell

    await tell(bot)


def dms_to(app: AppUnderTest, user: str) -> list[SlackCall]:
    return [c for c in app.slack.calls_to("chat.postMessage") if c.args.get("channel") == user]


async def test_a_slow_zone_lookup_is_recorded_before_the_acknowledgement(make_app: Any) -> None:
    app = await make_app()
    app.slack.workspace.zones["U0SENDER"] = "Asia/Kolkata"
    asked = slow_users_info(app, 0.5)
    number = new_number()
    started = time.monotonic()
    answer = acked(await app.command(f'{number} --at "in 3h" See you then', response_name="slow-zone"))
    took = time.monotonic() - started
    # The 200 came after the zone was known and the send written down: a crash now loses nothing.
    rows = await app.bot.ledger.history("U0SENDER")
    assert answer == {} and asked[:1] == ["U0SENDER"]
    assert [r.recipient for r in rows] == [number]
    assert 0.5 <= took < 3.0
    await app.settled()
    (body,) = app.sent_to(number)
    assert str(body["schedule"]).endswith("+05:30")


async def test_a_slow_zone_lookup_with_a_name_records_the_numbers_and_holds_the_name_before_the_ack(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await make_app()
    app.slack.workspace.zones["U0SENDER"] = "Asia/Kolkata"
    slow_users_info(app, 0.5)
    name, contact, number = unique_name("Slow"), new_number(), new_number()
    app.sociocs.add_contact(contact, name)
    dropped = drop_name_lookups(app, monkeypatch)
    answer = acked(await app.command(f'"{name}", {number} --at "in 3h" hi', response_name="slow-names"))
    assert "Looking up" in answer["text"]
    assert [r.recipient for r in await app.bot.ledger.history("U0SENDER")] == [number]
    assert dropped == ["sms-contacts"]
    await app.settled()


@pytest.mark.parametrize("with_name", [False, True])
async def test_a_zone_slack_never_tells_is_refused_in_the_ack_and_nothing_is_recorded_or_sent(
    make_app: Any, with_name: bool
) -> None:
    app = await make_app()
    slow_users_info(app, 6.0)  # longer than Slack waits for the acknowledgement
    number, channel = new_number(), new_channel()
    name = unique_name("Never")
    app.sociocs.add_contact(new_number(), name)
    to = f'"{name}", {number}' if with_name else number
    started = time.monotonic()
    answer = acked(await app.command(f'{to} --at "in 3h" hi', channel=channel, response_name="no-zone"))
    took = time.monotonic() - started
    assert 1.5 <= took < 2.5  # the budget (send_later.ZONE_BUDGET), inside Slack's 3 s
    assert answer["response_type"] == "ephemeral"
    assert "could not read your time zone from Slack" in answer["text"] and "nothing was scheduled" in answer["text"]
    await app.settled()
    assert await app.bot.ledger.history("U0SENDER") == []
    assert not app.sociocs.messages() and not app.posts(channel) and not app.private("no-zone")
    assert await app.bot.choices.lost_names() == []


def drop_name_lookups(app: AppUnderTest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The background lookups of names never run, as if the process died right after the answer."""
    spawn = app.bot.background.spawn
    dropped: list[str] = []

    def maybe(coro: Coroutine[Any, Any, Any], name: str = "work") -> Any:
        if name == "sms-contacts":
            dropped.append(name)
            coro.close()
            return spawn(asyncio.sleep(0), name="dropped")
        return spawn(coro, name=name)

    monkeypatch.setattr(app.bot.background, "spawn", maybe)
    return dropped


async def test_names_a_dead_process_acknowledged_are_told_to_their_author_once(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/lost-names.db"
    first = await make_app(DATABASE_URL=url)
    jane, bob = unique_name("Jane"), unique_name("Bob")
    first.sociocs.add_contact(new_number(), jane)
    first.sociocs.add_contact(new_number(), bob)
    channel = new_channel()
    drop_name_lookups(first, monkeypatch)
    answer = acked(await first.command(f'"{jane}", "{bob}" Your table is ready', channel=channel))
    assert "Looking up" in answer["text"]
    await first.settled()
    await first.aclose()  # the process is gone (its lookups never ran)

    second = await make_app(DATABASE_URL=url)
    await tell_lost_names(second.bot)
    (told,) = dms_to(second, "U0SENDER")
    text = str(told.args["text"])
    assert jane in text and bob in text and "not sent" in text and "restarted" in text and channel in text
    assert not second.sociocs.messages()
    await tell_lost_names(second.bot)  # claimed once: told once
    assert len(dms_to(second, "U0SENDER")) == 1


async def test_names_that_reached_their_end_are_not_reported_after_a_restart(make_app: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/settled-names.db"
    first = await make_app(DATABASE_URL=url)
    one, family = unique_name("One"), unique_name("Family")
    first.sociocs.add_contact(new_number(), one)
    first.sociocs.add_contact(new_number(), f"{family} Ann")
    first.sociocs.add_contact(new_number(), f"{family} Bob")
    nobody = unique_name("Nobody")
    acked(await first.command(f'"{one}", "{family}", "{nobody}" hi', response_name="settled"))
    await first.settled()
    said = json.dumps([c.args for c in first.private("settled")])
    assert "contact_choice_" in said and "No Sociocs contact matches" in said and len(first.sociocs.messages()) == 1
    await first.aclose()

    second = await make_app(DATABASE_URL=url)
    await tell_lost_names(second.bot)
    assert dms_to(second, "U0SENDER") == []


async def test_a_refused_command_holds_no_names(make_app: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/refused-names.db"
    first = await make_app(DATABASE_URL=url, ALLOWED_COUNTRIES="GB")
    name = unique_name("Held")
    first.sociocs.add_contact(new_number(), name)
    answer = acked(await first.command(f'"{name}", {new_number()} hi'))
    assert "Looking up" not in answer["text"]
    await first.aclose()
    second = await make_app(DATABASE_URL=url)
    await tell_lost_names(second.bot)
    assert dms_to(second, "U0SENDER") == []


async def test_a_name_whose_send_cannot_be_recorded_is_told_now_not_left_to_a_restart(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/failing-names.db"
    first = await make_app(DATABASE_URL=url)
    name = unique_name("Down")
    first.sociocs.add_contact(new_number(), name)

    async def ledger_down(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(first.bot.service, "accept", ledger_down)
    acked(await first.command(f'"{name}" hi', response_name="down"))
    await first.settled()
    said = json.dumps([c.args for c in first.private("down")])
    assert name in said and "nothing was sent" in said and not first.sociocs.messages()
    await first.aclose()
    second = await make_app(DATABASE_URL=url)
    await tell_lost_names(second.bot)
    assert dms_to(second, "U0SENDER") == []
