"""Contact choices: a command whose name matched several Sociocs contacts, held until its author
presses one of the offered contacts (or it expires). Kept in the ledger, not in the buttons, because
the message can outgrow a button's value and because the choice must survive a restart and be
claimed once across replicas. A new table: created at start, no schema-version bump needed. Rows
are deleted well after a press can use them (`bot.contact_choices.CHOICES_KEPT`, by the recovery sweep).

Name lookups (`name_lookups`): each name of a command, written down before Slack hears "ok" and
deleted once it is settled (sent, offered as a choice, or refused privately). A name left by a process
that is gone is claimed once, by one replica's recovery sweep, so its author is told it was not sent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Executable, String, Table, Text, and_, delete, insert, select, update

from bot.ledger._async import AsyncEngine
from bot.ledger._reader import SyncReads
from bot.ledger._schema import alive_since, metadata

contact_choices = Table(
    "contact_choices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(), nullable=False),
    Column("team_id", String(32)),
    Column("user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("typed", String(200), nullable=False),  # the name as typed
    Column("request", Text, nullable=False),  # JSON: what to send (provider, text, media, save)
    Column("matches", Text, nullable=False),  # JSON: [[number, name], ...]
    Column("decided_at", DateTime()),
)

name_lookups = Table(
    "name_lookups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(), nullable=False),
    Column("owner", String(32), nullable=False),  # the process looking it up (instances.id)
    Column("team_id", String(32)),
    Column("user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("typed", String(200), nullable=False),  # the name as typed
)


@dataclass(frozen=True, slots=True)
class LostLookup:
    """A name a gone process acknowledged and never settled: nothing was sent to it."""

    user_id: str
    channel_id: str
    typed: str


@dataclass(frozen=True, slots=True)
class ContactChoice:
    id: str
    created_at: datetime  # naive UTC
    team_id: str | None
    user_id: str
    channel_id: str
    typed: str
    request: dict[str, Any]
    matches: tuple[tuple[str, str | None], ...]
    decided: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ChoicesMixin:
    """The ledger's contact choices; mixed into `Ledger`, which provides `_engine` and `_reads`."""

    _engine: AsyncEngine
    _reads: AsyncEngine
    _sync_reads: SyncReads  # Ledger's: reads in the reader's thread, one hand-off each
    _write: Callable[[Executable], Awaitable[int]]
    instance_id: str
    dead_after: float

    async def hold_lookups(self, *, team_id: str | None, user_id: str, channel_id: str, typed: list[str]) -> list[str]:
        """Write down the names a command will look up, owned by this process; their ids, in order."""
        ids = [uuid.uuid4().hex for _ in typed]
        stamp = _now()
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(name_lookups),
                [
                    {
                        "id": lookup_id,
                        "created_at": stamp,
                        "owner": self.instance_id,
                        "team_id": team_id,
                        "user_id": user_id,
                        "channel_id": channel_id,
                        "typed": name[:200],
                    }
                    for lookup_id, name in zip(ids, typed, strict=True)
                ],
            )
        return ids

    async def settle_lookups(self, lookup_ids: list[str]) -> None:
        """These names are settled (sent, offered or refused): nothing is left to recover."""
        if not lookup_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(delete(name_lookups).where(name_lookups.c.id.in_(lookup_ids)))

    async def lost_lookups(self) -> list[LostLookup]:
        """Claim (delete, once across replicas) the names left unsettled by processes that are gone."""
        cutoff = _now() - timedelta(seconds=self.dead_after)
        alive = alive_since(cutoff)
        query = select(name_lookups).where(
            and_(name_lookups.c.owner != self.instance_id, name_lookups.c.owner.not_in(alive))
        )
        rows = await self._sync_reads.run(lambda conn: conn.execute(query).all())  # each claimed below
        lost: list[LostLookup] = []
        for row in rows:
            async with self._engine.begin() as conn:
                claimed = await conn.execute(delete(name_lookups).where(name_lookups.c.id == row.id))
            if claimed.rowcount == 1:
                lost.append(LostLookup(row.user_id, row.channel_id, row.typed))
        return lost

    async def hold_choice(
        self,
        *,
        team_id: str | None,
        user_id: str,
        channel_id: str,
        typed: str,
        request: dict[str, Any],
        matches: list[tuple[str, str | None]],
    ) -> str:
        """Keep a command until its author picks one of `matches`; returns its random id."""
        choice_id = uuid.uuid4().hex
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(contact_choices).values(
                    id=choice_id,
                    created_at=_now(),
                    team_id=team_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    typed=typed[:200],
                    request=json.dumps(request),
                    matches=json.dumps([list(m) for m in matches]),
                )
            )
        return choice_id

    async def contact_choice(self, choice_id: str) -> ContactChoice | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(select(contact_choices).where(contact_choices.c.id == choice_id))).first()
        if row is None:
            return None
        return ContactChoice(
            id=row.id,
            created_at=row.created_at,
            team_id=row.team_id,
            user_id=row.user_id,
            channel_id=row.channel_id,
            typed=row.typed,
            request=json.loads(row.request),
            matches=tuple((str(m[0]), m[1]) for m in json.loads(row.matches)),
            decided=row.decided_at is not None,
        )

    async def decide_choice(self, choice_id: str, user_id: str) -> bool:
        """Claim the undecided choice for its author: True exactly once, whoever presses how often."""
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                update(contact_choices)
                .where(
                    and_(
                        contact_choices.c.id == choice_id,
                        contact_choices.c.user_id == user_id,
                        contact_choices.c.decided_at.is_(None),
                    )
                )
                .values(decided_at=_now())
            )
        return claimed.rowcount == 1

    async def undecide_choice(self, choice_id: str) -> None:
        """Hand a claimed choice back (its send was refused), so its author can choose again."""
        async with self._engine.begin() as conn:
            await conn.execute(update(contact_choices).where(contact_choices.c.id == choice_id).values(decided_at=None))

    async def forget_choices(self, offered_before: datetime) -> int:
        """Delete the choices offered before `offered_before` (naive UTC), made or not; how many.
        Idempotent, so any replica may; the caller picks a time no press can use them after."""
        return await self._write(delete(contact_choices).where(contact_choices.c.created_at < offered_before))
