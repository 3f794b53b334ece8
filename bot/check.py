"""`sociocs-bot check`: one line per check, exit 0 only if every check passes.

It proves the configuration is complete for serving, that Slack accepts the bot token (auth.test),
and that Sociocs accepts the API key and knows each configured channel key (GET /channels).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings
from bot.contacts import ContactsService, ContactsUnavailable
from bot.domain.providers import Provider
from bot.ledger import Ledger
from bot.slack.reach import named_inboxes, reachability
from bot.sociocs import ContactsError, SociocsClient, SociocsError


async def run_check(settings: Settings, out: TextIO = sys.stdout) -> int:
    failures = 0

    def line(ok: bool, what: str, detail: str) -> None:
        nonlocal failures
        failures += 0 if ok else 1
        out.write(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}\n")
        out.flush()

    try:
        settings.check_serving()
        providers = ", ".join(p.value for p in settings.channel_keys)
        default = settings.default_provider.value if settings.default_provider else "-"
        line(True, "configuration", f"{settings.mode} mode; providers {providers}; default {default}")
    except ConfigError as exc:
        line(False, "configuration", str(exc))
    else:
        if settings.sociocs_templates_file is not None:
            catalogue = settings.catalogue()
            for provider in (Provider.TWLOWA, Provider.GSWA):
                names = ", ".join(t.name for t in catalogue.for_provider(provider)) or "none"
                line(True, f"templates {provider.value}", names)

    try:
        ledger = await Ledger.open(settings.database_url)
        await ledger.close()
        line(True, "ledger", f"{make_url(settings.database_url).get_backend_name()} database ready")
    except Exception as exc:
        line(False, "ledger", f"cannot open DATABASE_URL ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")

    if settings.slack_bot_token is not None:
        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
        try:
            auth = await client.auth_test()
            line(
                True, "slack auth.test", f"team {auth.get('team')} ({auth.get('team_id')}), bot user {auth.get('user')}"
            )
        except SlackApiError as exc:
            line(False, "slack auth.test", f"Slack refused the bot token: {exc.response.get('error')}")
        except Exception as exc:  # network trouble: say what, never the token
            line(False, "slack auth.test", f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})")
        for ok, detail in await reachability(client, named_inboxes(settings)):
            line(ok, "slack inbox channel", detail)
    else:
        line(False, "slack auth.test", "skipped: SLACK_BOT_TOKEN is not set")

    if settings.sociocs_api_key is not None:
        sociocs = SociocsClient(
            api_key=settings.sociocs_api_key.get_secret_value(),
            base_url=settings.sociocs_base_url,
            timeout=settings.sociocs_timeout_seconds,
        )
        try:
            for provider, key in settings.channel_keys.items():
                what = f"sociocs GET /channels?provider={provider.value}"
                try:
                    channels = await sociocs.list_channels(provider)
                except SociocsError as exc:
                    line(False, what, str(exc))
                    continue
                match = next((c for c in channels if c.channel_key == key), None)
                if match is None:
                    line(
                        False,
                        what,
                        f"{provider.channel_key_setting} is not among this account's {len(channels)} channel(s)",
                    )
                else:
                    line(True, what, f"channel key found ({match.name or match.id})")
            if not settings.channel_keys:
                line(False, "sociocs channels", "no SOCIOCS_CHANNEL_KEY_* is set")
            await _contacts(settings, sociocs, line)
        finally:
            await sociocs.aclose()
    elif settings.sociocs_dry_run:
        line(True, "sociocs", "dry run: SOCIOCS_API_KEY not set, nothing will be sent")
    else:
        line(False, "sociocs", "SOCIOCS_API_KEY is not set")
    return 0 if failures == 0 else 1


async def _contacts(settings: Settings, sociocs: SociocsClient, line: Callable[[bool, str, str], None]) -> None:
    """Contacts search reachable; team members listed, and how many Slack users map to one (#14)."""
    try:
        await sociocs.search_contacts("aa", limit=1)
        line(True, "sociocs GET /contacts/search", "reachable: names can be looked up")
    except ContactsError as exc:
        line(False, "sociocs GET /contacts/search", str(exc))
    emails = await _slack_emails(settings)
    service = ContactsService(sociocs, user_map=settings.sociocs_user_map)
    what = "sociocs GET /team-members"
    try:
        members = await service.team_members()
    except ContactsUnavailable as exc:
        line(False, what, str(exc))
        return
    by_map = len(settings.sociocs_user_map)
    if emails is None:
        line(
            True,
            what,
            f"{len(members)} team member(s); {by_map} Slack user(s) mapped by SOCIOCS_USER_MAP "
            "(Slack e-mails could not be read: add the users:read.email scope)",
        )
        return
    by_map, by_email = await service.mapped_users(emails)
    line(
        True,
        what,
        f"{len(members)} team member(s); {by_map + by_email} Slack user(s) map to one "
        f"({by_map} by SOCIOCS_USER_MAP, {by_email} by e-mail of {len(emails)} with a readable e-mail)",
    )


async def _slack_emails(settings: Settings) -> dict[str, str] | None:
    """Slack user id → profile e-mail for the workspace's people (users.list), or None if unreadable."""
    if settings.slack_bot_token is None:
        return None
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    emails: dict[str, str] = {}
    cursor: str | None = None
    try:
        for _ in range(20):  # 200 people a page; a check need not read a huge workspace to the end
            page = await client.users_list(limit=200, cursor=cursor)
            for member in page.get("members") or []:
                email = (member.get("profile") or {}).get("email")
                if email and not member.get("is_bot") and not member.get("deleted"):
                    emails[str(member["id"])] = str(email)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
    except Exception:
        return None
    return emails
