"""What a command with contact names keeps in the ledger, for the Slack layer (which only renders).

Two things are held: the names a command will look up after Slack has its answer (written down before
it, so a crash between the answer and the lookup is found by the recovery sweep and its author told),
and the choice offered when a name matched several contacts (claimed once, by its author, in time).
Slack-free; refusals are typed errors the Slack edge turns into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.ledger import ContactChoice, Ledger, LostLookup

CHOICE_MINUTES = 30  # a held choice may be made this long after it was offered
# A choice's row is deleted this long after it was offered (see `ContactChoices.forget_stale`).
CHOICES_KEPT = timedelta(days=1)

__all__ = [
    "CHOICES_KEPT",
    "CHOICE_MINUTES",
    "ChoiceExpired",
    "ChoiceGone",
    "ChoiceRefused",
    "ChoiceTaken",
    "ContactChoice",
    "ContactChoices",
    "HeldNames",
    "LostLookup",
    "NotTheAuthor",
    "UnknownContact",
]


class ChoiceRefused(Exception):
    """A press on a held choice that sends nothing."""


class ChoiceGone(ChoiceRefused):
    """No such choice in the ledger."""


class NotTheAuthor(ChoiceRefused):
    """Someone other than the command's author pressed."""

    def __init__(self, author: str) -> None:
        super().__init__(author)
        self.author = author


class ChoiceExpired(ChoiceRefused):
    """The choice is older than CHOICE_MINUTES."""


class UnknownContact(ChoiceRefused):
    """The press names no offered contact (a forged or stale value)."""


class ChoiceTaken(ChoiceRefused):
    """Already made (or cancelled), by an earlier press."""


@dataclass(frozen=True, slots=True)
class HeldNames:
    """The names of one command, held until each is settled: `ids[i]` is `typed[i]`'s."""

    ids: tuple[str, ...]
    typed: tuple[str, ...]


class ContactChoices:
    """Held names and held choices, in the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    # Names looked up after the acknowledgement ------------------------------------------------------------

    async def hold_names(self, team_id: str | None, user_id: str, channel_id: str, typed: list[str]) -> HeldNames:
        """Write the names down before the acknowledgement (a ledger failure propagates: nothing is
        acknowledged then)."""
        ids = await self._ledger.hold_lookups(team_id=team_id, user_id=user_id, channel_id=channel_id, typed=typed)
        return HeldNames(tuple(ids), tuple(typed))

    async def settle(self, *lookup_ids: str) -> None:
        """These names reached an end the author sees (sent, offered, refused): nothing to recover."""
        await self._ledger.settle_lookups(list(lookup_ids))

    async def lost_names(self) -> list[LostLookup]:
        """Names acknowledged by processes that are gone and never settled (each returned once)."""
        return await self._ledger.lost_lookups()

    # Several matches: the author's choice ---------------------------------------------------------------

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
        """Keep the message until its author picks one of `matches`; the choice's id."""
        return await self._ledger.hold_choice(
            team_id=team_id, user_id=user_id, channel_id=channel_id, typed=typed, request=request, matches=matches
        )

    async def claim(self, choice_id: str, presser: str, index: int | None, *, cancelling: bool) -> ContactChoice:
        """The choice, claimed by its author pressing `index` (or Cancel): exactly once across presses
        and replicas. Raises ChoiceGone, NotTheAuthor, ChoiceExpired, UnknownContact, ChoiceTaken."""
        choice = await self._ledger.contact_choice(choice_id)
        if choice is None:
            raise ChoiceGone(choice_id)
        if choice.user_id != presser:
            raise NotTheAuthor(choice.user_id)
        if choice.created_at.replace(tzinfo=UTC) + timedelta(minutes=CHOICE_MINUTES) < datetime.now(UTC):
            raise ChoiceExpired(choice_id)
        if (index is None and not cancelling) or (index is not None and not 0 <= index < len(choice.matches)):
            raise UnknownContact(choice_id)
        if not await self._ledger.decide_choice(choice_id, presser):
            raise ChoiceTaken(choice_id)
        return choice

    async def forget_stale(self) -> int:
        """Delete the choices offered more than CHOICES_KEPT ago; how many (the recovery sweep's work).

        A choice is refused CHOICE_MINUTES after it was offered, but its buttons stay on the author's
        screen, and each press brings a response_url of its own: until the row is gone, a late press is
        told that the choice is too old (and a double press that it was already made), which says more
        than "no record". So rows are kept well past the lifetime, a day rather than half an hour; that
        also leaves any clock skew between the replicas that stamp and judge a choice far behind. A
        press on a deleted choice is answered that there is no record of it: nothing is sent either way.
        """
        return await self._ledger.forget_choices(datetime.now(UTC).replace(tzinfo=None) - CHOICES_KEPT)

    async def release(self, choice_id: str) -> None:
        """Hand a claimed choice back (its send was refused: nothing went out), so it can be made again."""
        await self._ledger.undecide_choice(choice_id)
