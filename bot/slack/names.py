"""Readable names for user and channel references that arrive without a label (`<@U123>`)."""

from __future__ import annotations

import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.outbox import slack_call
from bot.slack.text import references

log = logging.getLogger(__name__)


class NameResolver:
    """Looks names up with users.info and conversations.info, caching them for `ttl` seconds."""

    def __init__(self, client: AsyncWebClient, ttl: float = 600.0) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}

    async def names_for(self, text: str) -> dict[str, str]:
        users, channels = references(text)
        names: dict[str, str] = {}
        for ident in users:
            names[ident] = await self._lookup(ident, user=True)
        for ident in channels:
            names[ident] = await self._lookup(ident, user=False)
        return names

    async def _lookup(self, ident: str, *, user: bool) -> str:
        cached = self._cache.get(ident)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        name = ident
        what = f"look up {ident}"
        if user:
            found = await slack_call(self._client.users_info(user=ident), what, level=logging.INFO)
            info = (found.get("user") if found is not None else None) or {}
            profile = info.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or info.get("name") or ident
        else:
            found = await slack_call(self._client.conversations_info(channel=ident), what, level=logging.INFO)
            info = (found.get("channel") if found is not None else None) or {}
            name = info.get("name") or ident
        self._cache[ident] = (now + self._ttl, str(name))
        return str(name)

    async def email_of(self, user_id: str) -> str | None:
        """The person's profile e-mail (users.info; needs the users:read.email scope), cached like names."""
        key = f"email:{user_id}"
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1] or None
        found = await slack_call(self._client.users_info(user=user_id), f"look up {user_id}", level=logging.INFO)
        if found is None:
            return None  # not cached: Slack may answer next time
        profile = (found.get("user") or {}).get("profile") or {}
        email = str(profile.get("email") or "")
        self._cache[key] = (now + self._ttl, email)
        return email or None
