"""`sociocs-bot webhooks subscribe`: register the bot's webhook for every configured channel.

Each channel gets a stable `subscriber_reference_id` (derived from provider and channel key), so
running it again, or with a new URL, updates the subscription instead of adding another.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from typing import TextIO

from bot.config import Settings
from bot.domain.providers import Provider
from bot.sociocs import SociocsClient, SociocsError
from bot.webhook_endpoint import PATH

log = logging.getLogger(__name__)


def reference_for(provider: Provider, channel_key: str) -> str:
    digest = hashlib.sha256(f"{provider.value}:{channel_key}".encode()).hexdigest()[:24]
    return f"sociocs-slack-bot-{digest}"


async def subscribe_all(
    settings: Settings, client: SociocsClient, url: str | None = None, out: TextIO | None = None
) -> int:
    """Subscribe each channel; one line per channel to `out` (or the log); the number of failures."""
    base = (url or settings.public_url or "").rstrip("/")
    webhook_url = base + PATH
    secret = settings.sociocs_webhook_secret.get_secret_value() if settings.sociocs_webhook_secret else ""
    failures = 0
    for provider, key in settings.channel_keys.items():
        try:
            sub_id = await client.subscribe_webhook(
                provider=provider,
                channel_key=key,
                reference=reference_for(provider, key),
                webhook_url=webhook_url,
                secret=secret,
            )
            line = f"ok   {provider.value}: subscribed {webhook_url} (subscription {sub_id or '?'})"
        except SociocsError as exc:
            failures += 1
            line = f"FAIL {provider.value}: {exc}"
        if out is not None:
            out.write(line + "\n")
            out.flush()
        else:
            log.info("webhook subscription %s", line)
    return failures


async def run_subscribe(settings: Settings, url: str | None, out: TextIO = sys.stdout) -> int:
    problems = []
    if settings.sociocs_api_key is None:
        problems.append("SOCIOCS_API_KEY is required to subscribe")
    if settings.sociocs_webhook_secret is None:
        problems.append("SOCIOCS_WEBHOOK_SECRET is required: without it the bot refuses every webhook")
    if not (url or settings.public_url):
        problems.append("PUBLIC_URL (or --url) is required: the address Sociocs can reach the bot at")
    if not settings.channel_keys:
        problems.append("no SOCIOCS_CHANNEL_KEY_* is set")
    if problems:
        for problem in problems:
            out.write(f"FAIL {problem}\n")
        return 2
    assert settings.sociocs_api_key is not None
    client = SociocsClient(
        api_key=settings.sociocs_api_key.get_secret_value(),
        base_url=settings.sociocs_base_url,
        timeout=settings.sociocs_timeout_seconds,
    )
    try:
        failures = await subscribe_all(settings, client, url, out)
    finally:
        await client.aclose()
    return 0 if failures == 0 else 1
