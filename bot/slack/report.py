"""Reporting a send into Slack: a top-level summary, then one outcome reply in its thread.

The reply lists every recipient's outcome and is edited in place as outcomes arrive
(`bot.slack.outcome_reply`). Every call is paced within Slack's limits (`bot.slack.outbox`): a rate
limit is waited out, never a reason to report privately. Only when the bot cannot post in the
conversation (a private channel or DM it is not in) do the outcomes go to the person privately,
through the command's `response_url` or as a direct message, with a hint to invite the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.draft import Draft
from bot.domain.outcome import Outcome
from bot.domain.payload import MessagePayload
from bot.domain.phone import PhoneNumber
from bot.ledger import Report
from bot.replies import ReplyBook
from bot.slack.messages import outcome_blocks, outcome_text, parent_blocks, summary_text
from bot.slack.outbox import slack_call
from bot.slack.outcome_reply import Replies, render

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.3  # how long the first outcome of a send waits for the others before it is shown

# Errors that mean "this conversation is closed to the bot", as opposed to Slack being down.
CANNOT_POST = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "cannot_reply_to_message",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "ekm_access_denied",
        "team_access_not_granted",
        "not_allowed_token_type",
        "channel_type_not_supported",
    }
)


class PrivateSink(Protocol):
    """Tells the person privately (a response_url or a direct message); blocks are optional."""

    def __call__(self, text: str, blocks: list[dict[str, Any]] | None = None) -> Awaitable[None]: ...


def ephemeral(respond: Callable[..., Awaitable[Any]]) -> PrivateSink:
    """A private sink over a request's `respond` (its response_url): seen only by who asked."""

    async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    return tell


class SlackThreadReporter:
    """Posts the parent message in `channel_id` (or into `thread_ts` when given) and outcomes under it."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel_id: str,
        sender_id: str | None,
        private: PrivateSink,
        dry_run: bool,
        thread_ts: str | None = None,
        bot_user_id: str | None = None,
        summary: bool = True,
        prefix: str = "",
        send_ids: tuple[str, ...] = (),
        replies: Replies | None = None,
        window_known: bool = True,
        book: ReplyBook | None = None,
    ) -> None:
        """`summary` False skips the top-level summary (a retry reports in the existing thread);
        `prefix` starts every outcome line (e.g. who pressed Retry). With `send_ids` (in recipient
        order), `replies` and `book`, the outcomes go in one reply kept up to date from the ledger."""
        self._client = client
        self._channel = channel_id
        self._sender = sender_id
        self._private = private
        self._dry_run = dry_run
        self._thread_ts = thread_ts
        self._bot = f"<@{bot_user_id}>" if bot_user_id else "the bot"
        self._fallback = False
        self._summary = ""
        self._pending: list[tuple[str, str | None, Outcome]] = []
        self._summary_enabled = summary
        self._prefix = prefix
        self._send_ids = send_ids
        self._window_known = window_known  # False: the summary says WhatsApp's 24-hour rule could not be checked
        self._replies = replies
        self._book = book
        self._managed = False
        self._outstanding = len(send_ids)
        self._all_in = asyncio.Event()
        self.parent_ts: str | None = None

    def location(self) -> Report | None:
        if self._fallback:
            return None
        return Report(self._channel, self._thread_ts, self.parent_ts)

    async def started(self, draft: Draft) -> None:
        self._summary = summary_text(draft, self._sender)
        if not self._summary_enabled:
            return
        response = await slack_call(
            self._client.chat_postMessage(
                channel=self._channel,
                text=self._summary,
                blocks=parent_blocks(draft, self._sender, dry_run=self._dry_run, window_known=self._window_known),
                thread_ts=self._thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            ),
            f"post the send summary in {self._channel} (reporting privately)",
            expected=CANNOT_POST,  # the conversation is closed to the bot, as opposed to Slack being down
        )
        if response is None:
            self._fallback = True
            return
        self.parent_ts = str(response["ts"])
        if self._thread_ts is None:
            self._thread_ts = self.parent_ts
        if self._replies is not None and self._book is not None and self._send_ids:
            try:
                await self._book.open(self._channel, self.parent_ts, self._thread_ts, self._send_ids)
                self._managed = True
            except Exception:
                log.exception("could not note the send's reply in the ledger; outcomes are posted one by one")

    async def finished(
        self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome, send_id: str | None = None
    ) -> None:
        if self._managed and self._replies is not None and self.parent_ts is not None:
            # Outcomes of one send arrive close together: wait a moment for the rest, so the reply is
            # usually posted once with all of them rather than posted and then edited.
            self._outstanding -= 1
            if self._outstanding <= 0:
                self._all_in.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_in.wait(), GATHER_SECONDS)
            await self._replies.show(self._channel, self.parent_ts)
            if (self._channel, self.parent_ts) not in self._replies.refused:
                return
            # Slack refused the reply itself (not a rate limit): the person is told privately at the end.
            self._pending.append((self._line(recipient, payload, outcome), send_id, outcome))
            return
        line = self._line(recipient, payload, outcome)
        if not self._fallback:
            posted = await slack_call(
                self._client.chat_postMessage(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    text=line,
                    blocks=outcome_blocks(line, send_id, outcome),
                    unfurl_links=False,
                    link_names=False,
                ),
                f"post an outcome in {self._channel}",
            )
            if posted is not None:
                return
        self._pending.append((line, send_id, outcome))

    def _line(self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome) -> str:
        """The recipient's outcome as a line of its own (the one reply renders its lines from the ledger)."""
        return self._prefix + outcome_text(recipient, payload, outcome)

    async def done(self) -> None:
        """Whatever could not go in the thread goes to the person, Retry buttons included."""
        if not self._pending:
            return
        hint = (
            "_I could not post in that conversation, so here is the outcome privately. "
            f"Invite {self._bot} to that conversation to get outcomes in a thread there._"
            if self._fallback
            else ""
        )
        head = self._summary if self._fallback else "I could not post these outcomes in the thread:"
        if self._book is not None and len(self._send_ids) > 1:
            # Several recipients: the same rendering as the thread reply, within Slack's block limits.
            records = await self._book.sends_in_order(self._send_ids)
            ids = ",".join(self._send_ids)
            text, rendered, _, _ = render(
                records,
                retry_all=ids if len(ids) < 1900 else None,
                head=[{"type": "section", "text": {"type": "mrkdwn", "text": head[:2900], "verbatim": True}}],
                reserve=1 if hint else 0,
            )
            if hint:
                rendered.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
            await self._private("\n".join([head, text, hint]).strip(), rendered)
            return
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": head[:2900], "verbatim": True}}
        ]
        for line, send_id, outcome in self._pending:
            blocks.extend(
                outcome_blocks(line, send_id, outcome)
                or [{"type": "section", "text": {"type": "mrkdwn", "text": line[:2900], "verbatim": True}}]
            )
        if hint:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
        text = "\n".join([head, *(line for line, _, _ in self._pending), hint]).strip()
        await self._private(text, blocks[:50])
