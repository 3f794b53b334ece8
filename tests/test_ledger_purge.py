"""Held mentions (`pending_mentions`) and the ids of handled customer messages (`incoming_messages`) are
deleted once they can no longer matter, on SQLite and PostgreSQL: a mention a day old goes (chosen or
not) and a younger one stays, still chosen as before and a late press still told it is too old; a
message id a week old goes, and a younger one still drops a duplicate delivery."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.conversations import (
    INCOMING_KEPT,
    MENTIONS_KEPT,
    AlreadyChosen,
    ChoiceExpired,
    ConversationService,
    MentionGone,
)
from bot.ledger import Ledger, ThreadCustomer
from bot.ledger import _store as store
from bot.ledger._schema import incoming, pending_mentions
from bot.sociocs.webhooks import IncomingMessage, parse_event
from tests.conftest import CHANNEL_KEYS
from tests.test_e2e_webhooks import incoming as incoming_body
from tests.test_ledger import run, url  # noqa: F401  (the SQLite / PostgreSQL fixture)

A, B = "+16175550111", "+16175550112"


def _service(ledger: Ledger) -> ConversationService:
    return ConversationService(ledger, served=[("twlo", CHANNEL_KEYS["twlo"][0])], inbox_channel_id=None)


async def _hold(service: ConversationService, text: str) -> str:
    return await service.hold_mention(
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        thread_ts="1.1",
        text=text,
        customers=[ThreadCustomer("twlo", "ck", A, "Ann"), ThreadCustomer("twlo", "ck", B)],
    )


async def _age_mention(ledger: Ledger, mention_id: str, by: timedelta) -> None:
    async with ledger._engine.begin() as conn:
        await conn.execute(
            update(pending_mentions).where(pending_mentions.c.id == mention_id).values(created_at=store.now() - by)
        )


async def _mentions_left(ledger: Ledger) -> set[str]:
    async with ledger._engine.connect() as conn:
        return set((await conn.execute(select(pending_mentions.c.id))).scalars())


def test_the_sweep_deletes_mentions_past_their_keeping_and_keeps_younger_ones(url: str) -> None:  # noqa: F811
    async def body() -> None:
        ledger = await Ledger.open(url)
        try:
            service = _service(ledger)
            stale, chosen_stale, expired, fresh = [await _hold(service, t) for t in ("a", "b", "c", "d")]
            await service.choose(chosen_stale, 0, "U1")  # chosen, then left a day
            await _age_mention(ledger, stale, MENTIONS_KEPT + timedelta(minutes=1))
            await _age_mention(ledger, chosen_stale, MENTIONS_KEPT + timedelta(days=30))
            await _age_mention(ledger, expired, timedelta(hours=2))  # refused already, but within the margin
            assert await service.forget_stale_mentions() == 2
            assert await _mentions_left(ledger) == {expired, fresh}
            assert await service.forget_stale_mentions() == 0  # idempotent: another replica's sweep finds nothing
            # What is kept answers as before; what is gone answers that it is gone (nothing sent either way).
            with pytest.raises(MentionGone):
                await service.choose(stale, 0, "U1")
            with pytest.raises(ChoiceExpired):  # the more helpful answer to a late press
                await service.choose(expired, 0, "U1")
            assert (await service.choose(fresh, 1, "U1")).customer == ThreadCustomer("twlo", "ck", B)
            with pytest.raises(AlreadyChosen):  # the double press of a choice just made
                await service.choose(fresh, 1, "U1")
        finally:
            await ledger.close()

    run(body)


def test_a_mention_within_its_lifetime_and_margin_is_never_deleted(url: str) -> None:  # noqa: F811
    async def body() -> set[str]:
        ledger = await Ledger.open(url)
        try:
            service = _service(ledger)
            edge = await _hold(service, "edge")
            await _age_mention(ledger, edge, MENTIONS_KEPT - timedelta(minutes=1))
            assert await service.forget_stale_mentions() == 0
            return await _mentions_left(ledger) ^ {edge}
        finally:
            await ledger.close()

    assert run(body) == set()


def _message(number: str, message_id: str) -> IncomingMessage:
    body: dict[str, Any] = incoming_body(number, "hello", message_id)
    body["provider"], body["channel_key"] = "twlo", CHANNEL_KEYS["twlo"][0]
    parsed = parse_event(body)
    assert isinstance(parsed, IncomingMessage)
    return parsed


async def _age_incoming(ledger: Ledger, message_id: str, by: timedelta) -> None:
    async with ledger._engine.begin() as conn:
        await conn.execute(update(incoming).where(incoming.c.message_id == message_id).values(at=store.now() - by))


async def _ids_left(ledger: Ledger) -> set[str]:
    async with ledger._engine.connect() as conn:
        return set((await conn.execute(select(incoming.c.message_id))).scalars())


def test_the_sweep_deletes_message_ids_past_any_redelivery_and_a_younger_duplicate_is_still_dropped(
    url: str,  # noqa: F811
) -> None:
    async def body() -> None:
        ledger = await Ledger.open(url)
        try:
            service = _service(ledger)
            tag = time.monotonic_ns()
            old, late, fresh = (_message(A, f"IN{k}{tag}") for k in ("old", "late", "fresh"))
            for message in (old, late, fresh):
                assert await service.receive(message)
            await _age_incoming(ledger, old.message_id, INCOMING_KEPT + timedelta(hours=1))
            await _age_incoming(ledger, late.message_id, INCOMING_KEPT - timedelta(hours=1))  # a very late retry
            assert await service.forget_old_incoming() == 1
            assert await _ids_left(ledger) == {late.message_id, fresh.message_id}
            assert await service.forget_old_incoming() == 0  # idempotent: another replica's sweep finds nothing
            # Within the window a duplicate delivery is still dropped, however late.
            assert not await service.receive(late)
            assert not await service.receive(fresh)
            # Past it the id is forgotten: Sociocs has long stopped redelivering, so it would be new again.
            assert await service.receive(old)
        finally:
            await ledger.close()

    run(body)
