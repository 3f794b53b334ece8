"""Each sender's time zone, from Slack (`users.info` → `tz`), cached: `--at 9am` means 9 where they are."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.schedule import zone_named

log = logging.getLogger(__name__)

UserLookup = Callable[[str], Awaitable[dict[str, Any] | None]]


class ZoneUnknown(Exception):
    """Slack could not tell the sender's time zone just now."""


class ZoneCache:
    """users.info per person, kept for `ttl` seconds (people rarely change zone; Tier 4 is shared)."""

    def __init__(self, ttl: float = 3600.0) -> None:
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ZoneInfo]] = {}

    def cached(self, user_id: str | None) -> ZoneInfo | None:
        """The zone if it is known already (no Slack call: usable before the acknowledgement)."""
        found = self._cache.get(user_id or "")
        return found[1] if found is not None and found[0] > time.monotonic() else None

    async def zone_of(self, user_of: UserLookup, user_id: str) -> ZoneInfo:
        """The person's zone (UTC when their profile has none); ZoneUnknown when Slack cannot say.
        `user_of` is the shared users.info cache (`NameResolver.user`)."""
        zone = self.cached(user_id)
        if zone is not None:
            return zone
        info = await user_of(user_id)
        if not isinstance(info, dict):
            raise ZoneUnknown(user_id)
        zone = zone_named(info.get("tz"))
        self._cache[user_id] = (time.monotonic() + self._ttl, zone)
        return zone

    async def zone_within(self, user_of: UserLookup, user_id: str, budget: float) -> ZoneInfo:
        """The person's zone, asked of Slack for at most `budget` seconds (a command records its send
        before Slack's 3 s acknowledgement, so it cannot wait longer); ZoneUnknown when Slack did not
        tell in time. A lookup cut short fills no cache: the next command asks again."""
        zone = self.cached(user_id)
        if zone is not None:
            return zone
        try:
            return await asyncio.wait_for(self.zone_of(user_of, user_id), budget)
        except TimeoutError:
            log.info("users.info for %s took more than %.1f s: the time zone is unknown for now", user_id, budget)
            raise ZoneUnknown(user_id) from None
