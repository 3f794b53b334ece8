"""Wiring: builds the Bot (`bot.slack.context`): the Slack client, the Sociocs client, the ledger, the
services, and the Bolt app with its listeners (`bot.slack.listeners`).

Listeners acknowledge first and hand the work to `Background`, so Slack always gets its answer well
inside 3 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler

from bot.config import Settings
from bot.contacts import ContactsService
from bot.conversations import ConversationService
from bot.guardrails import Guardrails
from bot.inbox import Desk
from bot.ledger import Ledger, MediaFiles
from bot.replies import ReplyBook
from bot.sending import SendService
from bot.slack import idempotency, listeners
from bot.slack.context import Bot, provide
from bot.slack.conversations import SlackConversations, refresh_head
from bot.slack.home import publish_home
from bot.slack.links import Links
from bot.slack.media import Rehoster
from bot.slack.names import NameResolver
from bot.slack.outbox import Outbox, PacedWebClient
from bot.slack.outcome_reply import Replies
from bot.slack.verification import trust_front_door
from bot.sociocs import SociocsClient
from bot.tasks import Background

log = logging.getLogger(__name__)


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


async def build_bot(
    settings: Settings,
    *,
    console: bool = False,
    on_sociocs_request: Callable[[Any], None] | None = None,
    on_client: Callable[[PacedWebClient], None] | None = None,
) -> Bot:
    """Create the clients and the Bolt app with its listeners.

    `console` turns off request signing checks: the console feeds requests in-process.
    `on_sociocs_request` sees each Sociocs request body (never its headers), for the console.
    `on_client` gets the Slack client as soon as it exists, before the ledger is opened: serving
    starts its token check there, so that Slack's answer and the ledger's are waited for together.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "xoxb-console"
    # No rate-limit retry handler: the paced client waits out 429s itself, so retries do not double up.
    client = PacedWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(),
        retry_handlers=[AsyncConnectionErrorRetryHandler()],
    )
    if on_client is not None:
        on_client(client)
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
        # The name Bolt would work out itself (the caller's file name, which names its listeners'
        # loggers), given so that it skips `inspect.stack()`: that reads the source of every frame
        # on the stack, about 5% of the bot's start-up CPU.
        name="app.py",
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
            window_known=settings.sociocs_webhook_secret is not None,
        ),
        conversations=ConversationService(
            ledger,
            served={(provider.value, key) for provider, key in settings.channel_keys.items()},
            inbox_channel_id=settings.inbox_channel_id,
            inbox_channels={p.value: c for p, c in settings.inbox_channels.items()},
            new_thread_after=timedelta(hours=settings.conversation_new_thread_hours),
        ),
        background=Background(),
        names=NameResolver(client),
        outbox=outbox,
        replies=Replies(client, outbox, ReplyBook(ledger)),
    )
    bot.media = Rehoster(
        client,
        MediaFiles(ledger),
        bot_token=token,
        api_url=settings.slack_api_url,
        public_url=settings.public_url,
        ttl_seconds=settings.media_url_ttl_seconds,
    )
    client.share = lambda: bot.live_instances
    bot.contacts = ContactsService(sociocs, user_map=settings.sociocs_user_map, email_of=bot.names.email_of)
    bot.service.sender_of = bot.contacts.sociocs_user_id
    bot.desk = Desk(
        ledger,
        sociocs,
        served={(provider.value, key) for provider, key in settings.channel_keys.items()},
        admins=settings.admin_user_ids,
    )
    bot.links = Links(client)
    bot.home_refresh.run = lambda user_id: publish_home(bot, user_id)
    bot.head_refresh.run = lambda conversation_id: refresh_head(bot, conversation_id)
    provide(app, bot)  # every listener finds the bot in Bolt's context
    listeners.register(app)

    shown = SlackConversations(bot)

    async def after_sent(message_id: str) -> None:
        # Status updates that arrived before the send's own answer wait in the ledger for its id.
        bot.background.spawn(bot.conversations.apply_deliveries(message_id, shown), name="delivery-status")

    if settings.sociocs_webhook_secret is not None:  # without webhooks no status update can wait for a send
        bot.service.after_sent = after_sent
    return bot
