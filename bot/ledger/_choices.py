"""Contact choices: a command whose name matched several Sociocs contacts, held until its author
presses one of the offered contacts (or it expires). Kept in the ledger, not in the buttons, because
the message can outgrow a button's value and because the choice must survive a restart and be
claimed once across replicas. A new table: created at start, no schema-version bump needed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, Text, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger._schema import metadata

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
