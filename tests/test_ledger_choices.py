"""Contact choices (`contact_choices`) are deleted once no press can use them, on SQLite and PostgreSQL:
a choice a day old goes (pressed or not), a younger one stays, and a kept one still answers a late
press (too old) and a double press (already made) as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.contact_choices import CHOICES_KEPT, ChoiceExpired, ChoiceGone, ChoiceTaken, ContactChoices
from bot.ledger import Ledger
from bot.ledger import _store as store
from bot.ledger._choices import contact_choices
from tests.test_ledger import run, url  # noqa: F401  (the SQLite / PostgreSQL fixture)


async def _offer(ledger: Ledger, typed: str) -> str:
    return await ledger.hold_choice(
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        typed=typed,
        request={"provider": "twlo", "text": "hi"},
        matches=[("+16175551212", "Jane Doe"), ("+16175551213", "Jane Roe")],
    )


async def _age(ledger: Ledger, choice_id: str, by: timedelta) -> None:
    async with ledger._engine.begin() as conn:
        await conn.execute(
            update(contact_choices).where(contact_choices.c.id == choice_id).values(created_at=store.now() - by)
        )


async def _left(ledger: Ledger) -> set[str]:
    async with ledger._engine.connect() as conn:
        return set((await conn.execute(select(contact_choices.c.id))).scalars())


def test_the_sweep_deletes_choices_past_their_keeping_and_keeps_younger_ones(url: str) -> None:  # noqa: F811
    async def body() -> None:
        ledger = await Ledger.open(url)
        try:
            choices = ContactChoices(ledger)
            stale, pressed_stale, expired, fresh = [await _offer(ledger, t) for t in ("a", "b", "c", "d")]
            await choices.claim(pressed_stale, "U1", 0, cancelling=False)  # made, then left a day
            await _age(ledger, stale, CHOICES_KEPT + timedelta(minutes=1))
            await _age(ledger, pressed_stale, CHOICES_KEPT + timedelta(days=30))
            await _age(ledger, expired, timedelta(hours=2))  # refused already, but still within the margin
            assert await choices.forget_stale() == 2
            assert await _left(ledger) == {expired, fresh}
            assert await choices.forget_stale() == 0  # idempotent: another replica's sweep finds nothing
            # What is kept answers as before; what is gone answers that it is gone (nothing sent either way).
            with pytest.raises(ChoiceGone):
                await choices.claim(stale, "U1", 0, cancelling=False)
            with pytest.raises(ChoiceExpired):
                await choices.claim(expired, "U1", 0, cancelling=False)
            assert (await choices.claim(fresh, "U1", 1, cancelling=False)).matches[1][1] == "Jane Roe"
            with pytest.raises(ChoiceTaken):  # the double press of a choice just made
                await choices.claim(fresh, "U1", 1, cancelling=False)
        finally:
            await ledger.close()

    run(body)


def test_a_choice_within_its_lifetime_and_margin_is_never_deleted(url: str) -> None:  # noqa: F811
    async def body() -> int:
        ledger = await Ledger.open(url)
        try:
            edge = await _offer(ledger, "edge")
            await _age(ledger, edge, CHOICES_KEPT - timedelta(minutes=1))
            assert await ContactChoices(ledger).forget_stale() == 0
            async with ledger._engine.connect() as conn:
                count: int = (await conn.execute(select(func.count()).select_from(contact_choices))).scalar_one()
            return count
        finally:
            await ledger.close()

    assert run(body) == 1
