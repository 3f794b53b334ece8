"""`sociocs-bot check`: one line per check, exit 0 only if every check passes.

It proves the configuration is complete for serving, that Slack accepts the bot token (auth.test),
and that Sociocs accepts the API key and knows each configured channel key (GET /channels).
"""

from __future__ import annotations

import sys
from typing import TextIO

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings
from bot.ledger import Ledger
from bot.slack.reach import named_inboxes, reachability
from bot.sociocs import SociocsClient, SociocsError


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
        finally:
            await sociocs.aclose()
    elif settings.sociocs_dry_run:
        line(True, "sociocs", "dry run: SOCIOCS_API_KEY not set, nothing will be sent")
    else:
        line(False, "sociocs", "SOCIOCS_API_KEY is not set")
    return 0 if failures == 0 else 1
