"""Readable names for user and channel references that arrive without a label (`<@U123>`), and each
person's Slack profile: one cached `users.info` per person serves their name, e-mail and time zone."""

from __future__ import annotations

import logging
import time
from typing import Any

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
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """The person's `users.info` user object, cached for `ttl`; None (not cached) when Slack cannot say."""
        cached = self._users.get(user_id)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        found = await slack_call(self._client.users_info(user=user_id), f"look up {user_id}", level=logging.INFO)
        info = found.get("user") if found is not None else None
        if not isinstance(info, dict):
            return None  # not cached: Slack may answer next time
        self._users[user_id] = (now + self._ttl, info)
        return info

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
            info = await self.user(ident) or {}
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
        info = await self.user(user_id)
        profile = (info or {}).get("profile") or {}
        return str(profile.get("email") or "") or None
