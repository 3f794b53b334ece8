"""The running bot: what it holds (`Bot`), built by `bot.slack.app.build_bot`, and how listeners reach it.

A global middleware puts the Bot in Bolt's context (`context["bot"]`); listeners take it from there
with `bot_of(context)`, so they are plain functions, not closures over the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.config import Settings
from bot.conversations import ConversationService
from bot.domain.draft import Draft, RawDraft, make_draft
from bot.domain.outcome import Outcome
from bot.ledger import Ledger, SendRecord
from bot.sending import Accepted, SendService
from bot.slack.messages import help_text, outcome_blocks
from bot.slack.names import NameResolver
from bot.slack.outbox import Outbox, PacedWebClient, slack_call
from bot.slack.outcome_reply import Replies
from bot.slack.report import PrivateSink, SlackThreadReporter
from bot.sociocs import SociocsClient
from bot.tasks import Background

log = logging.getLogger(__name__)

BOT_KEY = "bot"  # where the global middleware puts the Bot in Bolt's context


@dataclass
class Bot:
    """Everything a running bot holds; built inside the event loop, closed with `aclose`."""

    settings: Settings
    app: AsyncApp
    client: PacedWebClient
    sociocs: SociocsClient | None
    service: SendService
    conversations: ConversationService
    background: Background
    names: NameResolver
    outbox: Outbox
    replies: Replies
    bot_user_id: str | None = None
    live_instances: int = 1  # bot processes sharing Slack's rate limits (refreshed by the recovery sweep)

    @property
    def ledger(self) -> Ledger:
        return self.service.ledger

    async def aclose(self) -> None:
        await self.ledger.close()
        if self.sociocs is not None:
            await self.sociocs.aclose()
        session = self.client.session
        if session is not None and not session.closed:
            await session.close()

    def help(self) -> str:
        s = self.settings
        return help_text(s.channel_keys, s.default_provider, s.whatsapp_provider, s.max_recipients)

    def draft(self, raw: RawDraft) -> Draft:
        """The one place drafts are checked, for every entry point."""
        return make_draft(raw, self.service.rules)

    def reporter(
        self, *, channel_id: str, sender_id: str | None, private: PrivateSink, thread_ts: str | None = None, **kw: Any
    ) -> SlackThreadReporter:
        return SlackThreadReporter(
            self.client,
            channel_id=channel_id,
            sender_id=sender_id,
            private=private,
            dry_run=self.service.dry_run,
            thread_ts=thread_ts,
            bot_user_id=self.bot_user_id,
            replies=self.replies,
            book=self.replies.book,
            **kw,
        )

    async def deliver(
        self, accepted: Accepted, *, channel_id: str, private: PrivateSink, thread_ts: str | None = None
    ) -> None:
        """Send an accepted draft and report it in `channel_id` (in `thread_ts` when given)."""
        reporter = self.reporter(
            channel_id=channel_id,
            sender_id=accepted.requester.user_id,
            private=private,
            thread_ts=thread_ts,
            send_ids=accepted.send_ids,
        )
        await self.service.send(accepted, reporter)

    async def post_outcome(self, record: SendRecord, line: str, outcome: Outcome, what: str) -> None:
        """An outcome about a recorded send in the send's thread: its outcome reply brought up to date
        from the ledger, or (a send reported before replies were kept) a reply of its own."""
        if not record.channel_id:
            return
        if record.summary_ts and await self.replies.show(record.channel_id, record.summary_ts):
            return
        await slack_call(
            self.client.chat_postMessage(
                channel=record.channel_id,
                thread_ts=record.thread_ts or record.summary_ts,
                text=line,
                blocks=outcome_blocks(line, record.id, outcome),
                unfurl_links=False,
                link_names=False,
            ),
            f"report {what} of {record.id}",
        )

    def direct_message(self, user_id: str) -> PrivateSink:
        """A private sink that writes to the person in the bot's DM (the modal has no response_url)."""

        async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            await slack_call(
                self.client.chat_postMessage(
                    channel=user_id, text=text, blocks=blocks, unfurl_links=False, link_names=False
                ),
                f"message {user_id} privately either",
            )

        return tell


def provide(app: AsyncApp, bot: Bot) -> None:
    """Register the global middleware that puts `bot` in every request's context for the listeners."""

    async def provide_bot(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[BOT_KEY] = bot
        # Outcome messages invite people to add the bot by mention; learn its user id once.
        if bot.bot_user_id is None and context.bot_user_id:
            bot.bot_user_id = context.bot_user_id
        await next()

    app.middleware(provide_bot)


def bot_of(context: AsyncBoltContext) -> Bot:
    """The running Bot, as the global middleware put it in Bolt's context."""
    bot = context[BOT_KEY]
    if not isinstance(bot, Bot):
        raise TypeError("no Bot in Bolt's context: was the bot middleware registered?")
    return bot
