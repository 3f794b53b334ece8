"""Conversation state per (channel key, customer number): open or closed, who has it, where it lives.

One row per customer and Sociocs channel, reused when a conversation starts again in a new thread.
Every change a person makes is a conditional UPDATE whose row count says who won, so two people (or
two replicas) pressing *Assign* at once get one winner. A new table: created at start, no
schema-version bump needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Executable,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)

from bot.ledger._async import AsyncEngine
from bot.ledger._schema import metadata, sends
from bot.ledger._upsert import upsert_into

OPEN = "open"
CLOSED = "closed"

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("channel_key", String(255), nullable=False),
    Column("number", String(20), nullable=False),
    Column("name", String(200)),
    Column("status", String(16), nullable=False),  # open or closed
    Column("assignee", String(32)),
    Column("closed_by", String(32)),
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),  # the Slack thread the conversation lives in
    Column("head_ts", String(32), nullable=False),  # the message showing its state (buttons)
    Column("head", Text),  # opaque to the ledger: what the Slack layer needs to redraw the head
    Column("previous", String(80)),  # "channel/thread_ts" of the thread it continues, if any
    Column("opened_at", DateTime(), nullable=False),
    Column("last_customer_at", DateTime(), nullable=False),
    Column("last_customer_text", Text),
    # The customer's first message since the last reply; None while their latest waits for none (an opt-out).
    Column("waiting_since", DateTime()),
    Column("notified_at", DateTime()),  # the last top-level post or broadcast for it
    Column("updated_at", DateTime(), nullable=False),
    UniqueConstraint("provider", "channel_key", "number", name="uq_conversations_customer"),
    Index("ix_conversations_status", "status"),
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    provider: str
    channel_key: str
    number: str
    name: str | None
    status: str
    assignee: str | None
    closed_by: str | None
    channel_id: str
    thread_ts: str
    head_ts: str
    head: str | None
    previous: str | None
    opened_at: datetime
    last_customer_at: datetime
    last_customer_text: str | None
    waiting_since: datetime | None = None
    last_reply_at: datetime | None = None  # the latest message sent to the customer on this channel

    @property
    def open(self) -> bool:
        return self.status == OPEN

    @property
    def waiting(self) -> bool:
        """The customer wrote last (no reply since), and not a message that waits for no answer."""
        return self.waiting_since is not None and (
            self.last_reply_at is None or self.last_reply_at < self.last_customer_at
        )

    @property
    def opted_out(self) -> bool:
        """The customer's latest message waits for no answer (an opt-out), and none has since."""
        return self.waiting_since is None


def _last_reply() -> Any:
    return _reply_time().label("last_reply_at")


def _reply_time() -> Any:
    return (
        select(func.max(sends.c.created_at))
        .where(
            and_(
                sends.c.recipient == conversations.c.number,
                sends.c.channel_key == conversations.c.channel_key,
                sends.c.status == "sent",
            )
        )
        .scalar_subquery()
    )


def _conversation(row: object) -> Conversation:
    values = {name: getattr(row, name) for name in Conversation.__dataclass_fields__ if hasattr(row, name)}
    return Conversation(**values)


class ConversationsMixin:
    """The Ledger's operations on `conversations` (mixed into Ledger)."""

    _engine: AsyncEngine
    _reads: AsyncEngine
    _write: Callable[[Executable], Awaitable[int]]

    async def conversation(self, provider: str, channel_key: str, number: str) -> Conversation | None:
        return await self._one(
            and_(
                conversations.c.provider == provider,
                conversations.c.channel_key == channel_key,
                conversations.c.number == number,
            )
        )

    async def conversation_by_id(self, conversation_id: str) -> Conversation | None:
        return await self._one(conversations.c.id == conversation_id)

    async def _one(self, where: Any) -> Conversation | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(select(conversations, _last_reply()).where(where))).first()
        return _conversation(row) if row is not None else None

    async def start_conversation(
        self,
        *,
        provider: str,
        channel_key: str,
        number: str,
        name: str | None,
        channel_id: str,
        thread_ts: str,
        head_ts: str,
        head: str | None,
        previous: str | None,
        text: str | None,
        conversation_id: str,
        waits: bool = True,
    ) -> Conversation:
        """An open, unassigned conversation in this thread (replacing the customer's earlier one),
        waiting for an answer unless its first message waits for none (`waits` False: an opt-out)."""
        stamp = _now()
        values = {
            "name": name,
            "status": OPEN,
            "assignee": None,
            "closed_by": None,
            "channel_id": channel_id,
            "thread_ts": thread_ts,
            "head_ts": head_ts,
            "head": head,
            "previous": previous,
            "opened_at": stamp,
            "last_customer_at": stamp,
            "last_customer_text": text,
            "waiting_since": stamp if waits else None,
            "notified_at": stamp,  # starting it was a top-level post
            "updated_at": stamp,
        }
        new = upsert_into(conversations, postgres=self._engine.dialect.name == "postgresql")
        await self._write(
            new.values(
                id=conversation_id, provider=provider, channel_key=channel_key, number=number, **values
            ).on_conflict_do_update(index_elements=["provider", "channel_key", "number"], set_=values)
        )
        found = await self.conversation(provider, channel_key, number)
        assert found is not None
        return found

    async def customer_wrote(
        self,
        conversation_id: str,
        *,
        text: str | None,
        name: str | None,
        renotify_after: timedelta,
        waits: bool = True,
    ) -> tuple[bool, bool]:
        """Note the customer's message: reopen a closed conversation; (reopened, notify). `notify` is
        True for at most one message per `renotify_after` (claimed, so across replicas too). A message
        that waits for no answer (`waits` False: an opt-out) ends the wait; the next one starts one."""
        stamp = _now()
        key = conversations.c.id == conversation_id
        reopened = await self._write(
            update(conversations)
            .where(and_(key, conversations.c.status == CLOSED))
            .values(status=OPEN, closed_by=None, updated_at=stamp)
        )
        notify = await self._write(
            update(conversations)
            .where(
                and_(
                    key,
                    or_(conversations.c.notified_at.is_(None), conversations.c.notified_at < stamp - renotify_after),
                )
            )
            .values(notified_at=stamp)
        )
        if waits:
            await self._write(
                update(conversations)
                .where(
                    and_(
                        key,
                        or_(conversations.c.waiting_since.is_(None), conversations.c.waiting_since < _reply_time()),
                    )
                )
                .values(waiting_since=stamp)
            )
        changes: dict[str, object] = {"last_customer_at": stamp, "last_customer_text": text, "updated_at": stamp}
        if not waits:
            changes["waiting_since"] = None
        if name:
            changes["name"] = name
        await self._write(update(conversations).where(key).values(**changes))
        return reopened == 1, notify == 1

    async def assign_conversation(self, conversation_id: str, user_id: str) -> bool:
        """Take an open, unassigned conversation: True for exactly one taker."""
        taken = await self._write(
            update(conversations)
            .where(
                and_(
                    conversations.c.id == conversation_id,
                    conversations.c.status == OPEN,
                    conversations.c.assignee.is_(None),
                )
            )
            .values(assignee=user_id, updated_at=_now())
        )
        return taken == 1

    async def close_conversation(self, conversation_id: str, user_id: str, *, admin: bool) -> bool:
        """Close an open conversation that is unassigned or `user_id`'s (anyone's for an admin): True once."""
        allowed = [conversations.c.id == conversation_id, conversations.c.status == OPEN]
        if not admin:
            allowed.append(or_(conversations.c.assignee.is_(None), conversations.c.assignee == user_id))
        closed = await self._write(
            update(conversations).where(and_(*allowed)).values(status=CLOSED, closed_by=user_id, updated_at=_now())
        )
        return closed == 1

    async def open_conversations(self, limit: int = 200) -> list[Conversation]:
        """Open conversations, the longest waiting first (those waiting for no answer last)."""
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(conversations, _last_reply())
                    .where(conversations.c.status == OPEN)
                    .order_by(
                        conversations.c.waiting_since.is_(None), conversations.c.waiting_since, conversations.c.id
                    )
                    .limit(limit)
                )
            ).all()
        return [_conversation(r) for r in rows]
