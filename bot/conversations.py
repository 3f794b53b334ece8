"""The conversations service: what comes back from Sociocs and the customers, without Slack.

A customer's message and a send's delivery status arrive by webhook. Each is recorded before Sociocs
is answered (a duplicate changes nothing); a customer's message is then placed in its conversation's
thread (the latest with that number, or a new one in the inbox), one message per number at a time, and
a send's status updates are claimed, each exactly once whoever gets there first. A mention in a bridged
thread goes to the thread's customer, or is held until its author chooses one.

A customer's message leaves its conversation waiting for an answer, unless it is an opt-out (STOP and
kin): answering that would text someone who asked us to stop. Their next message waits again.

How and where anything is shown is the Slack layer's business: it implements `ConversationSink`, as it
implements the send path's `Reporter`. Refusals are typed errors (`MentionGone` and kin).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.domain.opt_out import is_opt_out
from bot.domain.outcome import UNDELIVERED
from bot.domain.phone import mask
from bot.domain.providers import Provider

# The `X as X` imports re-export record types the Slack layer renders: it never imports the ledger.
from bot.ledger import Conversation as Conversation
from bot.ledger import Ledger, PendingMention
from bot.ledger import SendRecord as SendRecord
from bot.ledger import ThreadCustomer as ThreadCustomer
from bot.sociocs.webhooks import IncomingMessage, StatusUpdate

log = logging.getLogger(__name__)

# A conversation re-notifies its channel (a top-level post or a broadcast reply) at most this often; the
# messages in between are posted in its thread as they come.
RENOTIFY_AFTER = timedelta(minutes=5)
NEW_THREAD_AFTER = timedelta(hours=72)  # CONVERSATION_NEW_THREAD_HOURS: a reopened conversation's new thread
CHOICE_LIFETIME = timedelta(minutes=30)  # as long as Slack keeps the response_url; stale choices send nothing
# A held mention's row is deleted this long after it was held (see `ConversationService.forget_stale_mentions`).
MENTIONS_KEPT = timedelta(days=1)
# A handled message's id is deleted this long after it came (see `ConversationService.forget_old_incoming`).
INCOMING_KEPT = timedelta(days=7)

# (status, error code, error message) of one delivery status update
Delivery = tuple[str, str | None, str | None]


class NotServed(Exception):
    """An event for a channel this bot does not serve."""


class MentionGone(Exception):
    """No held mention with that id (or no such customer in it)."""


class ChoiceExpired(Exception):
    """The held mention is older than CHOICE_LIFETIME."""


class NotYourChoice(Exception):
    """Only the mention's author may choose who gets it."""

    def __init__(self, author: str | None) -> None:
        super().__init__(author)
        self.author = author


class AlreadyChosen(Exception):
    """Someone already chose for the held mention, or cancelled it."""


class ConversationSink(Protocol):
    """Where conversations are shown (the Slack layer)."""

    async def customer_message(
        self,
        message: IncomingMessage,
        provider: Provider,
        channel_id: str,
        thread_ts: str | None,
        *,
        broadcast: bool = False,
    ) -> str | None:
        """Post a customer's message in `thread_ts` (a new thread in `channel_id` when None; also to
        the channel when `broadcast`); the posted message's ts, or None when it could not be posted."""
        ...

    async def conversation_started(
        self,
        message: IncomingMessage,
        provider: Provider,
        channel_id: str,
        thread_ts: str | None,
        *,
        conversation_id: str,
        previous: tuple[str, str] | None,
    ) -> tuple[str, str] | None:
        """Post a customer's message that starts a conversation, showing its state (open, unassigned)
        and its buttons: in `thread_ts`, or as a new thread in `channel_id` (linking `previous`, the
        thread it continues). (ts, head): the posted ts and what `conversation_changed` needs to
        redraw it, or None when it could not be posted."""
        ...

    async def conversation_changed(
        self, conversation: Conversation, event: str | None = None, actor: str | None = None
    ) -> None:
        """Redraw the conversation's first message from the ledger; record `event` ("assigned",
        "closed", "reopened") and who did it (`actor`, a Slack user id) in its thread."""
        ...

    async def statuses_changed(self, record: SendRecord) -> None:
        """The delivery statuses of `record`'s send changed in the ledger."""
        ...

    async def undelivered(self, record: SendRecord, failures: list[Delivery]) -> None:
        """`record`'s message did not reach the customer: each failed update, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class Choice:
    """A held mention chosen for: `customer` None means it was cancelled."""

    mention: PendingMention
    customer: ThreadCustomer | None


def _received_at(message: IncomingMessage) -> datetime:
    """When the customer wrote (naive UTC): Sociocs's timestamp, but never later than now."""
    now = datetime.now(UTC).replace(tzinfo=None)
    if message.timestamp is None:
        return now
    try:
        sent = datetime.fromtimestamp(message.timestamp / 1000, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return now
    return min(sent, now)


class ConversationService:
    def __init__(
        self,
        ledger: Ledger,
        *,
        served: Iterable[tuple[str, str]],
        inbox_channel_id: str | None,
        inbox_channels: Mapping[str, str] | None = None,
        new_thread_after: timedelta = NEW_THREAD_AFTER,
        renotify_after: timedelta = RENOTIFY_AFTER,
    ) -> None:
        """`served`: the (provider, channel key) pairs this bot serves; `inbox_channels`: where a
        customer's first message starts a thread, by provider (`inbox_channel_id` for the others;
        neither: such messages are recorded only). A closed conversation the customer reopens after
        `new_thread_after` starts a new thread."""
        self.ledger = ledger
        self._served = frozenset(served)
        self._inbox = inbox_channel_id
        self._inboxes = dict(inbox_channels or {})
        self._new_thread_after = new_thread_after
        self._renotify_after = renotify_after
        # (lock, how many handlers hold or wait for it) per conversation, dropped when nobody does.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    # Webhook events -------------------------------------------------------------------------------------

    async def receive(self, message: IncomingMessage) -> bool:
        """Record a customer's message: True the first time, False for a duplicate. NotServed for a
        channel this bot does not serve."""
        if (message.provider, message.channel_key) not in self._served:
            raise NotServed(message.channel_key)
        first = await self.ledger.first_incoming(message.message_id, message.number)
        if not first:
            log.info("duplicate message %s from %s ignored", message.message_id, mask(message.number))
        else:
            # WhatsApp's 24-hour window opens (again) with this message.
            await self.ledger.note_customer_write(message.channel_key, message.number, _received_at(message))
        return first

    async def record_status(self, update: StatusUpdate) -> bool:
        """Record a delivery status update: True the first time, False for a duplicate."""
        error = update.event_data.error
        return await self.ledger.record_delivery(
            update.message_id,
            update.event_data.status,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
        )

    async def forget_old_incoming(self) -> int:
        """Delete the ids of customer messages received more than INCOMING_KEPT ago; how many (the
        recovery sweep's work).

        An id is kept only to drop a second delivery of the same message (`receive`); nothing else
        reads it (where a message was posted lives in `threads` and `conversations`). Sociocs redelivers
        a webhook it thinks failed within minutes to hours, so a week is far past any redelivery, and
        leaves clock skew between replicas and a bot that was down for days (its webhooks retried
        after it is back) well behind. A delivery of a forgotten id would be handled as new.
        """
        return await self.ledger.forget_incoming(datetime.now(UTC).replace(tzinfo=None) - INCOMING_KEPT)

    # Customer messages ----------------------------------------------------------------------------------

    async def place(self, message: IncomingMessage, sink: ConversationSink) -> None:
        """Put a customer's message in its conversation's thread, or start one in the inbox channel.

        Messages from one number are handled one at a time, so two quick messages from a new number
        share the inbox thread the first one starts.
        """
        key = (message.channel_key, message.number)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await self._place(message, sink)
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def inbox_for(self, provider: str) -> str | None:
        """Where a new conversation on `provider`'s channel starts."""
        return self._inboxes.get(provider) or self._inbox

    async def _place(self, message: IncomingMessage, sink: ConversationSink) -> None:
        provider = Provider(message.provider)
        conversation = await self.ledger.conversation(provider.value, message.channel_key, message.number)
        where = await self.ledger.thread_for(
            provider=provider.value, channel_key=message.channel_key, number=message.number
        )
        moved = (
            conversation is not None
            and where is not None
            and where != (conversation.channel_id, conversation.thread_ts)
        )
        if conversation is not None and not moved and (conversation.open or not self._stale(conversation)):
            await self._continue(conversation, message, provider, sink)
            return
        inbox = self.inbox_for(provider.value)
        previous = (conversation.channel_id, conversation.thread_ts) if conversation else None
        if where is not None and (moved or conversation is None):
            channel, thread_ts = where  # someone texted the customer since: the thread of that latest send
        elif inbox:
            channel, thread_ts = inbox, None  # a new thread (a stale conversation's continuation too)
        elif where is not None:
            channel, thread_ts = where
        else:
            log.info(
                "message %s from %s on %s: no thread and no INBOX_CHANNEL_ID, recorded only",
                message.message_id,
                mask(message.number),
                provider.value,
            )
            return
        if previous == (channel, thread_ts):
            previous = None  # it continues in the same thread: nothing to link
        conversation_id = conversation.id if conversation else uuid.uuid4().hex
        posted = await sink.conversation_started(
            message, provider, channel, thread_ts, conversation_id=conversation_id, previous=previous
        )
        if posted is None:
            return
        ts, head = posted
        # The thread belongs to this customer too (with the name Sociocs knows), whatever else it holds:
        # noted first, as a mention may follow the post at once.
        customer = ThreadCustomer(provider.value, message.channel_key, message.number, message.sender_name)
        await self.ledger.join_thread(channel, thread_ts or ts, customer)
        await self.ledger.start_conversation(
            conversation_id=conversation_id,
            provider=provider.value,
            channel_key=message.channel_key,
            number=message.number,
            name=message.sender_name,
            channel_id=channel,
            thread_ts=thread_ts or ts,
            head_ts=ts,
            head=head,
            previous=f"{previous[0]}/{previous[1]}" if previous else None,
            text=_preview(message),
            waits=not is_opt_out(message.text),
        )
        if where != (channel, thread_ts or ts):
            await self.ledger.remember_thread(
                provider=provider.value,
                channel_key=message.channel_key,
                number=message.number,
                channel_id=channel,
                thread_ts=thread_ts or ts,
            )

    def _stale(self, conversation: Conversation) -> bool:
        """A closed conversation quiet for longer than `new_thread_after` continues in a new thread."""
        last = max(conversation.last_customer_at, conversation.last_reply_at or conversation.last_customer_at)
        return datetime.now(UTC).replace(tzinfo=None) - last > self._new_thread_after

    async def _continue(
        self, conversation: Conversation, message: IncomingMessage, provider: Provider, sink: ConversationSink
    ) -> None:
        """The customer wrote again in a known conversation: posted in its thread as it comes; the
        channel is told (a broadcast reply) at most once per `renotify_after`; a closed one reopens."""
        reopened, notify = await self.ledger.customer_wrote(
            conversation.id,
            text=_preview(message),
            name=message.sender_name,
            renotify_after=self._renotify_after,
            waits=not is_opt_out(message.text),
        )
        ts = await sink.customer_message(
            message, provider, conversation.channel_id, conversation.thread_ts, broadcast=notify
        )
        if ts is not None:
            customer = ThreadCustomer(provider.value, message.channel_key, message.number, message.sender_name)
            await self.ledger.join_thread(conversation.channel_id, conversation.thread_ts, customer)
        fresh = await self.ledger.conversation_by_id(conversation.id)
        if fresh is not None:
            await sink.conversation_changed(fresh, "reopened" if reopened else None)

    # Delivery statuses ----------------------------------------------------------------------------------

    async def apply_deliveries(self, message_id: str, sink: ConversationSink) -> None:
        """Show the status updates waiting for `message_id` (each exactly once, whoever gets here first)."""
        claimed = await self.ledger.claim_deliveries(message_id)
        if claimed is None:
            return
        record, updates = claimed
        await sink.statuses_changed(record)
        if record.delivery_status not in UNDELIVERED or not record.channel_id:
            return  # a failure after delivered or read is a regression: ignored, never shown
        await sink.undelivered(record, [u for u in updates if u[0] in UNDELIVERED])

    async def conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation as the ledger has it now (None when there is no such conversation)."""
        return await self.ledger.conversation_by_id(conversation_id)

    # Mentions in bridged threads ------------------------------------------------------------------------

    async def customers_of(self, channel_id: str, thread_ts: str) -> list[ThreadCustomer]:
        """The thread's customers, one per number and provider (a send goes out with the provider's
        configured channel key)."""
        seen: dict[tuple[str, str], ThreadCustomer] = {}
        for c in await self.ledger.thread_customers(channel_id, thread_ts):
            seen.setdefault((c.provider, c.number), c)
        return list(seen.values())

    async def hold_mention(
        self,
        *,
        team_id: str | None,
        user_id: str,
        channel_id: str,
        thread_ts: str,
        text: str,
        customers: list[ThreadCustomer],
    ) -> str:
        """Keep a checked mention until its author chooses one of `customers`; its id."""
        return await self.ledger.hold_mention(
            team_id=team_id, user_id=user_id, channel_id=channel_id, thread_ts=thread_ts, text=text, customers=customers
        )

    async def choose(self, mention_id: str, index: object, presser: str) -> Choice:
        """Claim the held mention for its `index`-th customer (None: cancel it), once whoever asks.

        Raises MentionGone, ChoiceExpired, NotYourChoice or AlreadyChosen. A chosen mention that then
        cannot be sent is `release`d, so its author may choose again.
        """
        pending = await self.ledger.pending_mention(mention_id)
        if pending is None or (
            index is not None and not (isinstance(index, int) and 0 <= index < len(pending.customers))
        ):
            raise MentionGone(mention_id)
        if datetime.now(UTC).replace(tzinfo=None) - pending.created_at > CHOICE_LIFETIME:
            raise ChoiceExpired(mention_id)
        if presser != pending.user_id:
            raise NotYourChoice(pending.user_id)
        if not await self.ledger.decide_mention(mention_id, presser, "cancelled" if index is None else "sent"):
            raise AlreadyChosen(mention_id)
        return Choice(pending, None if index is None else pending.customers[index])

    async def release(self, mention_id: str) -> None:
        """Undo a choice whose send was refused: nothing went out, so they may choose again."""
        await self.ledger.undecide_mention(mention_id)

    async def forget_stale_mentions(self) -> int:
        """Delete the mentions held more than MENTIONS_KEPT ago, chosen or not; how many (the recovery
        sweep's work).

        A held mention is refused CHOICE_LIFETIME after it was held, but its buttons stay on its
        author's screen, and each press brings a response_url of its own: until the row is gone, a late
        press is told that the choice is too old and to mention the bot again, which says more than "no
        record of that message". So rows are kept well past the lifetime, a day rather than half an
        hour; that also leaves any clock skew between the replicas that stamp and judge a mention far
        behind. A press on a deleted mention is answered that there is no record of it: nothing is sent
        either way.
        """
        return await self.ledger.forget_mentions(datetime.now(UTC).replace(tzinfo=None) - MENTIONS_KEPT)


def _preview(message: IncomingMessage) -> str | None:
    """What the inbox shows of a customer's message."""
    if message.text:
        return message.text[:300]
    if message.image_urls or message.file_urls or message.video_urls:
        return "(media)"
    return None
