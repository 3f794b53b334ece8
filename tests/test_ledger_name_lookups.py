"""Contact names held from a command's acknowledgement until settled (`name_lookups`), on SQLite and
PostgreSQL: a gone process's names are claimed once across replicas, a live one's are left alone, and
settled names are never reported."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from bot.ledger import Ledger, LostLookup
from bot.ledger import _store as store
from bot.ledger._schema import instances
from tests.test_ledger import run, url  # noqa: F401  (the SQLite / PostgreSQL fixture)


async def _silence(ledger: Ledger) -> None:
    """The process stops beating without closing (a crash): its heartbeat ages past the cutoff."""
    async with ledger._engine.begin() as conn:
        await conn.execute(
            update(instances)
            .where(instances.c.id == ledger.instance_id)
            .values(heartbeat_at=store.now() - store.timedelta(seconds=ledger.dead_after + 5))
        )


def test_names_of_a_gone_process_are_claimed_once_and_settled_ones_never(url: str) -> None:  # noqa: F811
    async def body() -> tuple[list[LostLookup], list[LostLookup]]:
        crashed = await Ledger.open(url)
        jane, _bob, ann = await crashed.hold_lookups(
            team_id="T1", user_id="U1", channel_id="C1", typed=["Jane Doe", "Bob", "Ann"]
        )
        await crashed.settle_lookups([jane])
        await _silence(crashed)
        first, second = await Ledger.open(url), await Ledger.open(url)
        try:
            a, b = await asyncio.gather(first.lost_lookups(), second.lost_lookups())
            again = await first.lost_lookups()
        finally:
            await first.close()
            await second.close()
            await crashed._engine.dispose()
        assert ann
        return [*a, *b], again

    lost, again = run(body)
    assert sorted(lost, key=lambda x: x.typed) == [LostLookup("U1", "C1", "Ann"), LostLookup("U1", "C1", "Bob")]
    assert again == []


def test_a_live_process_keeps_its_names(url: str) -> None:  # noqa: F811
    async def body() -> list[LostLookup]:
        live, other = await Ledger.open(url), await Ledger.open(url)
        try:
            await live.hold_lookups(team_id=None, user_id="U1", channel_id="C1", typed=["Jane"])
            return await other.lost_lookups() + await live.lost_lookups()
        finally:
            await live.close()
            await other.close()

    assert run(body) == []
