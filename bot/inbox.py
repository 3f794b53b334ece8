"""Working conversations: assigning, closing, and the inbox of what still waits for an answer.

Slack-free, like the other services: claims are conditional updates in the ledger (one winner across
replicas), refusals are typed errors the Slack edge turns into words, and the inbox is plain data.
Who may act at all (the guardrails) is checked by the caller before any of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot.domain.opt_out import is_opt_out
from bot.ledger import Conversation, Ledger
from bot.sociocs import SociocsError, UnrepliedMessage

log = logging.getLogger(__name__)
UNREPLIED_FOR = 30.0  # seconds Sociocs's unreplied list is reused
JUST_POSTED = 3.0  # seconds a press waits for the row of a conversation whose first message was just posted


class ConversationGone(Exception):
    """No conversation with that id (a button from another bot's ledger, or a stale one)."""


class AlreadyAssigned(Exception):
    """Someone has the conversation already."""

    def __init__(self, assignee: str) -> None:
        super().__init__(assignee)
        self.assignee = assignee


class AlreadyClosed(Exception):
    """The conversation is closed (someone closed it first)."""

    def __init__(self, closed_by: str | None) -> None:
        super().__init__(closed_by)
        self.closed_by = closed_by


class NotYourConversation(Exception):
    """Only the assignee or an admin may close an assigned conversation."""

    def __init__(self, assignee: str) -> None:
        super().__init__(assignee)
        self.assignee = assignee


class UnrepliedSource(Protocol):
    async def unreplied(self) -> list[UnrepliedMessage]: ...


@dataclass(frozen=True, slots=True)
class Inbox:
    """What waits for `user_id`: their open conversations, then unassigned ones (each the longest
    waiting first), how many others have, and Sociocs's unreplied messages with no thread here."""

    mine: list[Conversation]
    unassigned: list[Conversation]
    others: int
    unreplied: list[UnrepliedMessage] = field(default_factory=list)
    unreplied_problem: str | None = None  # why Sociocs's list is missing, if it is


class Desk:
    """Assign, close, list."""

    def __init__(
        self,
        ledger: Ledger,
        sociocs: UnrepliedSource | None,
        *,
        served: Iterable[tuple[str, str]],
        admins: frozenset[str],
    ) -> None:
        self.ledger = ledger
        self._sociocs = sociocs
        self._served = frozenset(served)
        self._admins = admins
        self._unreplied: tuple[float, list[UnrepliedMessage]] | None = None  # (when fetched, what)

    def is_admin(self, user_id: str) -> bool:
        return user_id in self._admins

    async def _get(self, conversation_id: str, *, wait: float = 0.0) -> Conversation:
        """The conversation; `wait` seconds for one whose first message was posted a moment ago (its
        button can be pressed in the instant before its row is written)."""
        deadline = time.monotonic() + wait
        while (found := await self.ledger.conversation_by_id(conversation_id)) is None:
            if time.monotonic() >= deadline:
                raise ConversationGone(conversation_id)
            await asyncio.sleep(0.1)
        return found

    async def assign(self, conversation_id: str, user_id: str) -> Conversation:
        """Give the open, unassigned conversation to `user_id`; one winner however many press at once."""
        await self._get(conversation_id, wait=JUST_POSTED)
        if not await self.ledger.assign_conversation(conversation_id, user_id):
            current = await self._get(conversation_id)
            if not current.open:
                raise AlreadyClosed(current.closed_by)
            if current.assignee:
                raise AlreadyAssigned(current.assignee)
            raise ConversationGone(conversation_id)  # pragma: no cover - a row that changed under us
        return await self._get(conversation_id)

    async def close(self, conversation_id: str, user_id: str) -> Conversation:
        """Close the conversation: anyone may close an unassigned one; an assigned one only its
        assignee or an admin."""
        if not await self.ledger.close_conversation(conversation_id, user_id, admin=self.is_admin(user_id)):
            current = await self._get(conversation_id)
            if not current.open:
                raise AlreadyClosed(current.closed_by)
            if current.assignee and current.assignee != user_id:
                raise NotYourConversation(current.assignee)
            raise ConversationGone(conversation_id)  # pragma: no cover
        return await self._get(conversation_id)

    async def inbox(self, user_id: str) -> Inbox:
        conversations = await self.ledger.open_conversations()
        mine = _waiting_first([c for c in conversations if c.assignee == user_id])
        unassigned = _waiting_first([c for c in conversations if c.assignee is None])
        others = len(conversations) - len(mine) - len(unassigned)
        unreplied: list[UnrepliedMessage] = []
        problem = None
        if self._sociocs is not None:
            try:
                unreplied = await self._without_thread(await self._fetch_unreplied())
            except SociocsError as exc:
                log.warning("could not list Sociocs's unreplied messages: %s", exc)
                problem = str(exc)
        return Inbox(mine, unassigned, others, unreplied, problem)

    async def _fetch_unreplied(self) -> list[UnrepliedMessage]:
        """Sociocs's list, kept UNREPLIED_FOR seconds: Home tabs refreshing together ask once."""
        now = time.monotonic()
        if self._unreplied is not None and now - self._unreplied[0] < UNREPLIED_FOR:
            return self._unreplied[1]
        assert self._sociocs is not None
        found = await self._sociocs.unreplied()
        self._unreplied = (now, found)
        return found

    async def _without_thread(self, messages: list[UnrepliedMessage]) -> list[UnrepliedMessage]:
        """The served channels' unreplied messages from numbers with no thread here, oldest first,
        one per number and channel (the latest), unless that one is an opt-out: it waits for no answer."""
        latest: dict[tuple[str, str, str], UnrepliedMessage] = {}
        for m in sorted(messages, key=lambda m: m.timestamp or 0):
            if not m.provider or not m.channel_key or (m.provider, m.channel_key) not in self._served:
                continue
            latest[(m.provider, m.channel_key, m.number)] = m
        found = []
        for (provider, key, number), m in latest.items():
            if is_opt_out(m.text):
                continue
            if await self.ledger.thread_for(provider=provider, channel_key=key, number=number) is None:
                found.append(m)
        return sorted(found, key=lambda m: m.timestamp or 0)


def _waiting_first(conversations: list[Conversation]) -> list[Conversation]:
    """Those waiting for an answer first, the longest waiting first; then the answered or opted-out ones."""
    return sorted(conversations, key=lambda c: (not c.waiting, c.waiting_since or c.last_customer_at, c.id))
