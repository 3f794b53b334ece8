"""The recovery sweep every process runs also deletes contact choices no press can use any more (a day
old), so `contact_choices` does not grow forever; a younger choice is kept and still sends when pressed."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.contact_choices import CHOICES_KEPT
from bot.ledger import _store as store
from bot.ledger._choices import contact_choices
from bot.slack.listeners.actions.contact_choice import GONE
from bot.slack.recovery import sweep_forever
from tests.unit.app import AppUnderTest, acked
from tests.unit.test_contacts_interplay import choice_offer, choose, two_contacts

pytestmark = pytest.mark.anyio


async def offered(app: AppUnderTest, family: str, name: str) -> tuple[str, list[dict[str, Any]]]:
    """A command naming `family` (two matches): its choice's id and its buttons."""
    acked(await app.command(f'"{family}" Your table is ready', response_name=name))
    await app.settled()
    buttons = choice_offer(app, name)
    return str(json.loads(buttons[0]["value"])["c"]), buttons


async def choice_ids(app: AppUnderTest) -> set[str]:
    async with app.bot.ledger._engine.connect() as conn:
        return set((await conn.execute(select(contact_choices.c.id))).scalars())


async def test_the_recovery_sweep_deletes_a_stale_choice_and_keeps_a_young_one(make_app: Any) -> None:
    app = await make_app()
    family, one, two = two_contacts(app, "Sweep")
    stale, stale_buttons = await offered(app, family, "sweep-stale")
    young, young_buttons = await offered(app, family, "sweep-young")
    async with app.bot.ledger._engine.begin() as conn:
        await conn.execute(
            update(contact_choices)
            .where(contact_choices.c.id == stale)
            .values(created_at=store.now() - CHOICES_KEPT - timedelta(minutes=5))
        )
    sweeping = asyncio.create_task(sweep_forever(app.bot))
    try:
        for _ in range(100):  # the sweep deletes at once when it starts, then every few minutes
            if stale not in await choice_ids(app):
                break
            await asyncio.sleep(0.05)
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)
    assert await choice_ids(app) == {young}
    await choose(app, stale_buttons, 0, "sweep-stale-press")  # an old button pressed after all
    assert [c.args.get("text") for c in app.private("sweep-stale-press")] == [GONE]
    await choose(app, young_buttons, 1, "sweep-young-press")
    assert app.sent_to(one) == [] and [b["text"] for b in app.sent_to(two)] == ["Your table is ready"]
