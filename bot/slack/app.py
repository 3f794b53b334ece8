"""Builds the Bot: the Slack client, the Sociocs client, the Bolt app and its listeners.

Listeners are registered by kind (`bot.slack.listeners`); each acknowledges first and hands the
work to `Background`, so Slack always gets its answer well inside 3 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler

from bot.config import Settings
from bot.domain.draft import Draft, DraftError, RawDraft, make_draft
from bot.domain.outcome import Outcome
from bot.guardrails import Guardrails
from bot.ledger import Ledger, SendRecord
from bot.sending import Accepted, SendService
from bot.slack.messages import help_text, outcome_blocks
from bot.slack.names import NameResolver
from bot.slack.outbox import Outbox, PacedWebClient
from bot.slack.outcome_reply import Replies
from bot.slack.report import PrivateSink, SlackThreadReporter
from bot.slack.text import shown
from bot.sociocs import SociocsClient
from bot.tasks import Background

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything a running bot holds; built inside the event loop, closed with `aclose`."""

    settings: Settings
    app: AsyncApp
    client: PacedWebClient
    sociocs: SociocsClient | None
    service: SendService
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
            ledger=self.ledger,
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
        try:
            await self.client.chat_postMessage(
                channel=record.channel_id,
                thread_ts=record.thread_ts or record.summary_ts,
                text=line,
                blocks=outcome_blocks(line, record.id, outcome),
                unfurl_links=False,
                link_names=False,
            )
        except SlackApiError as exc:
            log.error("could not report %s of %s: %s", what, record.id, exc.response.get("error"))

    def direct_message(self, user_id: str) -> PrivateSink:
        """A private sink that writes to the person in the bot's DM (the modal has no response_url)."""

        async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            try:
                await self.client.chat_postMessage(
                    channel=user_id, text=text, blocks=blocks, unfurl_links=False, link_names=False
                )
            except SlackApiError as exc:
                log.error("could not message %s privately either: %s", user_id, exc.response.get("error"))

        return tell


class _TokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client's token wins; that is intended here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def seed_authorization(bot: Bot, auth_test: Any) -> None:
    """Hand Bolt the auth.test answer the start-up check already has.

    Bolt's single-workspace authorization calls auth.test on the first request and caches it, but a
    burst of first requests each call it. Seeding its cache makes the first burst as fast as the rest.
    """
    from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization

    for middleware in bot.app._async_middleware_list:
        if isinstance(middleware, AsyncSingleTeamAuthorization) and middleware.auth_test_result is None:
            middleware.auth_test_result = auth_test
    bot.bot_user_id = bot.bot_user_id or auth_test.get("user_id")


def _usergroup_members(client: PacedWebClient) -> Callable[[str], Awaitable[frozenset[str]]]:
    async def members(group: str) -> frozenset[str]:
        response = await client.usergroups_users_list(usergroup=group)
        return frozenset(response.get("users") or [])

    return members


def problems_text(error: DraftError) -> str:
    lines = "\n".join(f"• {shown(p.message)}" for p in error.problems)
    return f":warning: Nothing was sent. Please fix:\n{lines}"


async def build_bot(
    settings: Settings, *, console: bool = False, on_sociocs_request: Callable[[Any], None] | None = None
) -> Bot:
    """Create the clients and the Bolt app with its listeners.

    `console` turns off request signing checks: the console feeds requests in-process.
    `on_sociocs_request` sees each Sociocs request body (never its headers), for the console.
    """
    import aiohttp

    from bot.front_door import trust_front_door
    from bot.slack import idempotency
    from bot.slack.listeners import register_all

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "xoxb-console"
    # No rate-limit retry handler: the paced client waits out 429s itself, so retries do not double up.
    client = PacedWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(),
        retry_handlers=[AsyncConnectionErrorRetryHandler()],
    )
    ledger = await Ledger.open(settings.database_url, dead_after=settings.ledger_recovery_seconds, serving=not console)
    outbox = Outbox(client)
    sociocs: SociocsClient | None = None
    if not settings.dry_run and settings.sociocs_api_key is not None:
        sociocs = SociocsClient(
            api_key=settings.sociocs_api_key.get_secret_value(),
            base_url=settings.sociocs_base_url,
            timeout=settings.sociocs_timeout_seconds,
            max_in_flight=settings.sociocs_max_concurrency,
            on_request=on_sociocs_request,
        )
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "console"
    bolt_log = logging.getLogger("bot.bolt")
    if not any(isinstance(f, _TokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(_TokenNotice())
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=not console,
        # Listeners only acknowledge and hand work to `Background`, so answering after they return is
        # fast and avoids Bolt's 10 ms polling for the acknowledgement.
        process_before_response=True,
        logger=bolt_log,
    )
    if not console:
        trust_front_door(app, signing_secret)  # /slack/events verifies before parsing; Bolt need not again
    idempotency.install(app, ledger)  # a retried event or a replayed request is acknowledged, not handled
    bot = Bot(
        settings=settings,
        app=app,
        client=client,
        sociocs=sociocs,
        service=SendService(
            sociocs,
            settings.rules(),
            ledger,
            Guardrails(settings.policy(), _usergroup_members(client)),
            log_numbers=settings.log_phone_numbers,
        ),
        background=Background(),
        names=NameResolver(client),
        outbox=outbox,
        replies=Replies(client, outbox, ledger),
    )
    client.share = lambda: bot.live_instances
    register_all(bot)

    async def after_sent(message_id: str) -> None:
        from bot.slack.conversations import apply_deliveries

        bot.background.spawn(apply_deliveries(bot, message_id), name="delivery-status")

    bot.service.after_sent = after_sent
    return bot
