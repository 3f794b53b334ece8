"""One outcome reply per send, rendered from the ledger and kept up to date in place.

However many recipients a send has, its thread gets one reply listing every recipient's outcome in
recipient order (those still on their way are counted, not listed). It is posted when the first
outcome is recorded and edited (`chat.update`, coalesced by the outbox) as the others arrive; what
it shows is always rendered from the ledger when the call is made, so a late edit never shows older
state. Failed and unknown recipients get a Retry button each while that fits in Slack's 50 blocks,
else one **Retry all failed**. What the reply shows is recorded in the ledger after Slack accepts it,
so a restart shows what was not yet shown, once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.domain.draft import Draft
from bot.domain.outcome import UNDELIVERED, Outcome, OutcomeKind
from bot.domain.payload import MessagePayload, payload_for
from bot.domain.phone import PhoneNumber
from bot.domain.window import outside_window
from bot.ledger import ReplyState, Report, SendRecord, SendStatus
from bot.replies import ReplyBook
from bot.sending import draft_from_record
from bot.slack.messages import RETRY_ACTION, outcome_text
from bot.slack.outbox import Outbox, PacedWebClient, paced_call, slack_call
from bot.slack.scheduled_text import cancel_button, cancelled_line, scheduled_line
from bot.slack.text import escape
from bot.slack.whatsapp import outside_window_words, template_button

log = logging.getLogger(__name__)

Block = dict[str, Any]
RETRY_ALL_PREFIX = "all:"
MAX_BLOCKS = 50
SECTION_LIMIT = 2900  # Slack allows 3,000 characters per section text
RESTARTED_BEFORE = "the bot restarted before sending it"
_FINAL = (
    SendStatus.SENT,
    SendStatus.FAILED,
    SendStatus.UNKNOWN,
    SendStatus.DRY_RUN,
    SendStatus.SCHEDULED,
    SendStatus.CANCELLED,
)


def outcome_of(record: SendRecord) -> Outcome | None:
    """The outcome a recorded send shows; None while it is still on its way."""
    match record.status:
        case SendStatus.SENT:
            return Outcome.sent(record.message_id or "")
        case SendStatus.FAILED if (record.error or "").startswith(RESTARTED_BEFORE):
            return Outcome.failed(record.error or "", hint="Press Retry to send it now.")
        case SendStatus.FAILED:
            return Outcome.failed(record.error or "", record.http_status)
        case SendStatus.UNKNOWN:
            return Outcome.unknown(record.error or "", record.http_status)
        case SendStatus.DRY_RUN:
            return Outcome.dry_run()
    return None


def shown_mark(record: SendRecord) -> str:
    """What the reply shows of one send, as recorded in the ledger ("" while on its way)."""
    if record.retried_by and record.status not in _FINAL:
        return f"retried:{record.retried_by}"
    if record.status not in _FINAL:
        return ""
    undelivered = record.delivery_status in UNDELIVERED
    retried = f":r{record.retried_by}" if record.retried_by else ""
    return record.status.value + (":undelivered" if undelivered else "") + retried


def _line(record: SendRecord) -> tuple[str, bool]:
    """The recipient's line and whether it offers Retry."""
    number = PhoneNumber(record.recipient, None)
    if record.retried_by and record.status not in _FINAL:
        return f":repeat: Retried by <@{record.retried_by}>: sending to {record.recipient} again…", False
    if record.status is SendStatus.SENT and record.delivery_status in UNDELIVERED:
        code, _, message = (record.delivery_error or "").partition("] ")
        if not message and not code.startswith("["):
            code, message = "", record.delivery_error or ""
        parts = (f"error {escape(code.lstrip('['))}" if code else "", f"“{escape(message)}”" if message else "")
        detail = " ".join(p for p in parts if p)
        line = f":x: Not delivered to {record.recipient} ({record.delivery_status})" + (f": {detail}" if detail else "")
        if outside_window(record.provider, code.lstrip("[")):
            return f"{line}. {outside_window_words()}", True
        return line + ". Press Retry to send it again.", True
    if record.status is SendStatus.SCHEDULED:
        return scheduled_line(record), False
    if record.status is SendStatus.CANCELLED:
        return cancelled_line(record), False
    outcome = outcome_of(record)
    if outcome is None:
        return "", False
    payload = None
    if outcome.kind is OutcomeKind.DRY_RUN:
        payload = payload_for(draft_from_record(record), number, record.channel_key)
    prefix = f"<@{record.retried_by}> retried: " if record.retried_by else ""
    return prefix + outcome_text(number, payload, outcome), outcome.kind in (OutcomeKind.FAILED, OutcomeKind.UNKNOWN)


def _accessory(record: SendRecord) -> Block:
    """Retry, or for a message refused outside WhatsApp's 24-hour window, *Send a template*."""
    code = (record.delivery_error or "").partition("] ")[0].lstrip("[")
    if record.delivery_status in UNDELIVERED and outside_window(record.provider, code):
        return template_button(record.id)
    return _button(record.id)


def _button(send_id: str, label: str = "Retry") -> Block:
    return {
        "type": "button",
        "action_id": RETRY_ACTION,
        "text": {"type": "plain_text", "text": label},
        "value": send_id,
        "confirm": {
            "title": {"type": "plain_text", "text": "Send it again?"},
            "text": {
                "type": "mrkdwn",
                "text": "Check Sociocs first if the outcome was unknown: the customer may already have the message.",
            },
            "confirm": {"type": "plain_text", "text": "Send again"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }


def _chunks(text: str) -> list[str]:
    """The text in pieces that each fit a section, split at line ends where possible, never cut off."""
    pieces: list[str] = []
    while len(text) > SECTION_LIMIT:
        cut = text.rfind("\n", 0, SECTION_LIMIT)
        cut = cut if cut > 0 else SECTION_LIMIT
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    pieces.append(text)
    return pieces


def render(
    records: list[SendRecord], *, retry_all: str | None = None, head: list[Block] | None = None, reserve: int = 0
) -> tuple[str, list[Block], dict[str, str], bool]:
    """(fallback text, blocks, what it shows per send id, every outcome final) for one reply."""
    lines = [(r, *_line(r)) for r in records]
    shown_lines = [(r, line, retry) for r, line, retry in lines if line]
    waiting = len(records) - len(shown_lines)
    failed = [r for r, _, retry in shown_lines if retry]
    blocks: list[Block] = list(head or [])
    # Each failed recipient's line carries its own button while they all fit in Slack's 50 blocks.
    text_sections = sum(len(_chunks(line)) for _, line, _ in shown_lines)
    per_button = bool(failed) and len(blocks) + text_sections + 2 + reserve <= MAX_BLOCKS
    # A scheduled message's line carries its Cancel button while that fits (else: `/sms scheduled`).
    scheduled = sum(1 for r, _, _ in shown_lines if r.status is SendStatus.SCHEDULED)
    cancellable = len(blocks) + text_sections + scheduled + 2 + reserve <= MAX_BLOCKS
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            for piece in _chunks("\n".join(buffer)):
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
            buffer.clear()

    for record, line, retry in shown_lines:
        if retry and per_button:
            flush()
            pieces = _chunks(line)
            for piece in pieces[:-1]:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
            blocks.append(
                {
                    "type": "section",
                    "block_id": f"retry:{record.id}",
                    "text": {"type": "mrkdwn", "text": pieces[-1]},
                    "accessory": _accessory(record),
                }
            )
        elif record.status is SendStatus.SCHEDULED and cancellable:
            flush()
            blocks.append(
                {
                    "type": "section",
                    "block_id": f"cancel:{record.id}",
                    "text": {"type": "mrkdwn", "text": line[:SECTION_LIMIT]},
                    "accessory": cancel_button(record.id),
                }
            )
        else:
            buffer.append(line)
    flush()
    if waiting:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f":hourglass_flowing_sand: {waiting} more on the way…"}],
            }
        )
    if failed and not per_button and retry_all:
        blocks.append(
            {
                "type": "actions",
                "block_id": "retry_all",
                "elements": [_button(RETRY_ALL_PREFIX + retry_all, f"Retry all failed ({len(failed)})")],
            }
        )
    text = "\n".join(line for _, line, _ in shown_lines) or "Sending…"
    shown = {r.id: shown_mark(r) for r in records}
    complete = all(r.status in _FINAL for r in records)
    return text, blocks, shown, complete


class Replies:
    """Posts and edits each send's outcome reply, from the ledger."""

    def __init__(self, client: PacedWebClient, outbox: Outbox, book: ReplyBook) -> None:
        self._client = client
        self._outbox = outbox
        self.book = book  # what each reply shows, kept in the ledger
        self._posting: dict[tuple[str, str], asyncio.Future[str | None]] = {}
        # Shows asked for and not yet begun (one per reply, shared by every caller meanwhile), and the
        # task running a reply's shows one after another.
        self._next_show: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self._showing: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Replies Slack refused to take (not a rate limit: those are waited out), for a private fallback.
        self.refused: set[tuple[str, str]] = set()

    async def state(self, channel_id: str | None, summary_ts: str | None) -> ReplyState | None:
        """The send's outcome reply as the ledger keeps it; None when the send has none (yet)."""
        if not channel_id or not summary_ts:
            return None
        return await self.book.state(channel_id, summary_ts)

    async def show(self, channel_id: str, summary_ts: str) -> bool:
        """Bring the send's reply up to date with the ledger; False when the send has no managed reply.

        Calls for one reply share the work: each joins the next show not yet begun, which reads the
        ledger after the call was made, so it shows everything recorded before. The 100 outcomes of a
        command, arriving together, cost one read of the reply's state and one render instead of a
        hundred of each (#18); shows of one reply run one after another."""
        key = (channel_id, summary_ts)
        waiting = self._next_show.get(key)
        if waiting is None:
            loop = asyncio.get_running_loop()
            waiting = self._next_show[key] = loop.create_future()
            if key not in self._showing:
                self._showing[key] = loop.create_task(self._run_shows(key), name="slack-reply-show")
        return await asyncio.shield(waiting)

    async def _run_shows(self, key: tuple[str, str]) -> None:
        """Run the reply's shows while callers wait for one; each caller gets its show's answer or error."""
        waiting: asyncio.Future[bool] | None = None
        try:
            while (waiting := self._next_show.pop(key, None)) is not None:
                try:
                    shown = await self._show_now(*key)
                except Exception as exc:
                    waiting.set_exception(exc)
                    waiting.exception()  # raised to each caller still waiting; not logged again if none is
                else:
                    waiting.set_result(shown)
        finally:
            del self._showing[key]
            for left in (waiting, self._next_show.pop(key, None)):  # cancelled (shutdown): nobody hangs
                if left is not None and not left.done():
                    left.cancel()

    async def _show_now(self, channel_id: str, summary_ts: str) -> bool:
        state = await self.book.state(channel_id, summary_ts)
        if state is None:
            return False
        key = (channel_id, summary_ts)
        ts = state.reply_ts
        if ts is None:
            posting = self._posting.get(key)
            if posting is None:
                future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
                self._posting[key] = future
                try:
                    ts = await self._post(state)
                finally:
                    future.set_result(ts)
                    del self._posting[key]
                return True
            ts = await asyncio.shield(posting)
            if ts is None:
                return True
        await self._edit(state, ts)
        return True

    async def _rendered(self, state: ReplyState) -> tuple[str, list[Block], dict[str, str], bool]:
        records = await self.book.sends(state)
        return render(records, retry_all=f"{state.channel_id}:{state.summary_ts}")

    async def _post(self, state: ReplyState) -> str | None:
        async def post() -> tuple[str, dict[str, str], bool]:
            text, blocks, shown, complete = await self._rendered(state)
            response = await self._client.chat_postMessage(
                channel=state.channel_id,
                thread_ts=state.thread_ts,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            )
            return str(response["ts"]), shown, complete

        posted = await slack_call(
            paced_call(self._client, "chat.postMessage", state.channel_id, post),
            f"post the outcomes in {state.channel_id}",
        )
        if posted is None:
            self.refused.add((state.channel_id, state.summary_ts))
            return None
        ts, shown, complete = posted
        await self.book.shown(state.channel_id, state.summary_ts, reply_ts=ts, shown=shown, complete=complete)
        return ts

    async def _edit(self, state: ReplyState, ts: str) -> None:
        last: dict[str, Any] = {}

        async def rendered() -> tuple[str, list[Block]] | None:
            text, blocks, shown, complete = await self._rendered(state)
            current = await self.book.state(state.channel_id, state.summary_ts)
            if current is not None and current.shown == shown and current.complete == complete:
                return None  # the reply already shows this
            last.update(shown=shown, complete=complete)
            return text, blocks

        async def accepted() -> None:
            if last:
                await self.book.shown(
                    state.channel_id, state.summary_ts, reply_ts=ts, shown=last["shown"], complete=last["complete"]
                )

        await self._outbox.edit(state.channel_id, ts, rendered, accepted)


class ReplyReporter:
    """Reports a Retry of one recipient of a send by editing that send's outcome reply."""

    def __init__(self, replies: Replies, state: ReplyState) -> None:
        self._replies = replies
        self._state = state

    def location(self) -> Report | None:
        return Report(self._state.channel_id, self._state.thread_ts, self._state.summary_ts)

    async def started(self, draft: Draft) -> None:
        await self._replies.book.reopen(self._state.channel_id, self._state.summary_ts)
        await self._replies.show(self._state.channel_id, self._state.summary_ts)

    async def finished(
        self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome, send_id: str | None
    ) -> None:
        await self._replies.show(self._state.channel_id, self._state.summary_ts)

    async def done(self) -> None:
        return None
