"""The running bot: what it holds (`Bot`), built by `bot.slack.app.build_bot`, and how listeners reach it.

A global middleware puts the Bot in Bolt's context (`context["bot"]`); listeners take it from there
with `bot_of(context)`, so they are plain functions, not closures over the bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.config import Settings
from bot.contact_choices import ContactChoices
from bot.contacts import ContactsService
from bot.conversations import ConversationService
from bot.domain.draft import Draft, RawDraft, make_draft
from bot.domain.outcome import Outcome
from bot.inbox import Desk
from bot.ledger import Ledger, SendRecord
from bot.scheduling import ScheduleService
from bot.sending import Accepted, SendService
from bot.slack.before_send import with_contact_name, without_blocked
from bot.slack.debounce import Debouncer
from bot.slack.links import Links
from bot.slack.media import Rehoster
from bot.slack.messages import help_text, outcome_blocks
from bot.slack.names import NameResolver
from bot.slack.outbox import Outbox, PacedWebClient, slack_call
from bot.slack.outcome_reply import Replies
from bot.slack.report import PrivateSink, SlackThreadReporter
from bot.slack.whatsapp import templates_help, templates_line
from bot.slack.zones import ZoneCache
from bot.sociocs import SociocsClient
from bot.tasks import Background

log = logging.getLogger(__name__)

HOME_REFRESH_SECONDS = 5.0  # a Home tab is published at most once per this, per person
HEAD_REFRESH_SECONDS = 10.0  # a conversation's first message is redrawn for new customer messages at most this often
HOME_VIEWERS = 50  # people whose Home tab is kept fresh: those who opened it most recently (views.publish is Tier 4)
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
    media: Rehoster | None = None  # Slack files re-hosted for Sociocs (bot.slack.media)
    zones: ZoneCache = field(default_factory=ZoneCache)  # each sender's time zone, for send later
    contacts: ContactsService = field(default_factory=lambda: ContactsService(None))  # Sociocs contacts (#14)

    @property
    def choices(self) -> ContactChoices:
        """Contact names held before the acknowledgement, and the choices offered for several matches."""
        return ContactChoices(self.ledger)

    @property
    def scheduling(self) -> ScheduleService:
        """Cancelling and listing scheduled messages (send later)."""
        return ScheduleService(self.ledger, self.sociocs, self.settings.admin_user_ids)

    # Conversations (assign, close, the inbox) and the Home tab, refreshed (debounced) for the people
    # who opened it in this process when something of theirs changes.
    desk: Desk | None = None
    links: Links | None = None
    home_refresh: Debouncer = field(default_factory=lambda: Debouncer(HOME_REFRESH_SECONDS))
    # A conversation's first message shows when the customer last wrote: redrawn at most this often for
    # plain messages (a burst is one edit); assign, close and reopen redraw it at once.
    head_refresh: Debouncer = field(default_factory=lambda: Debouncer(HEAD_REFRESH_SECONDS))
    home_viewers: dict[str, None] = field(default_factory=dict)  # the latest HOME_VIEWERS, oldest first
    inbox_reach: list[tuple[bool, str]] = field(default_factory=list)  # (ok, line) per inbox channel, at start

    def home_opened(self, user_id: str) -> None:
        """`user_id` looks at the Home tab: keep it fresh for them (the latest HOME_VIEWERS people)."""
        self.home_viewers.pop(user_id, None)
        self.home_viewers[user_id] = None
        while len(self.home_viewers) > HOME_VIEWERS:
            del self.home_viewers[next(iter(self.home_viewers))]

    def home_changed(self, *user_ids: str | None) -> None:
        """Something shown on these people's Home tab changed: refresh it soon (debounced)."""
        for user_id in user_ids:
            if user_id and user_id in self.home_viewers:
                self.home_refresh.request(user_id)

    @property
    def ledger(self) -> Ledger:
        return self.service.ledger

    async def aclose(self) -> None:
        if self.media is not None:
            await self.media.aclose()
        self.home_refresh.cancel()
        self.head_refresh.cancel()
        await self.ledger.close()
        if self.sociocs is not None:
            await self.sociocs.aclose()
        session = self.client.session
        if session is not None and not session.closed:
            await session.close()

    def help(self, topic: str | None = None) -> str:
        s = self.settings
        if topic == "templates":
            return templates_help(self.service.rules.templates, list(s.channel_keys))
        text = help_text(s.channel_keys, s.default_provider, s.whatsapp_provider, s.max_recipients)
        line = templates_line(self.service.rules.templates)
        return text if line is None else f"{text}\n{line}"

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
            window_known=self.service.window_known,
            book=self.replies.book,
            **kw,
        )

    async def deliver(
        self, accepted: Accepted, *, channel_id: str, private: PrivateSink, thread_ts: str | None = None
    ) -> None:
        """Send an accepted draft and report it in `channel_id` (in `thread_ts` when given).

        Recipients Sociocs has blocked are left out first (recorded as not sent, told privately), and a
        lone recipient with no name typed gets its Sociocs contact's name."""
        kept, named = await asyncio.gather(
            without_blocked(accepted, self.contacts, self.service, private), with_contact_name(accepted, self.contacts)
        )
        if kept is None:
            return
        accepted = named if kept is accepted else kept  # a lone recipient is either kept whole or refused
        reporter = self.reporter(
            channel_id=channel_id,
            sender_id=accepted.requester.user_id,
            private=private,
            thread_ts=thread_ts,
            send_ids=accepted.send_ids,
        )
        await self.service.send(accepted, reporter)
        self.home_changed(accepted.requester.user_id)

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
