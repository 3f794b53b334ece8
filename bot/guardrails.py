"""Who may send, from where, and to which countries. Unset lists mean no restriction.

The rate limit is not here: it is counted in the ledger, in the same transaction that records the
sends, so it holds across replicas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from bot.domain.draft import Field, Problem
from bot.domain.phone import PhoneNumber
from bot.domain.policy import Policy

__all__ = ["Guardrails", "MembersOf", "Policy"]

log = logging.getLogger(__name__)

MembersOf = Callable[[str], Awaitable[frozenset[str]]]


class Guardrails:
    def __init__(self, policy: Policy, members_of: MembersOf, cache_seconds: float = 300.0) -> None:
        self.policy = policy
        self._members_of = members_of
        self._cache_seconds = cache_seconds
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def _in_group(self, user_id: str, group: str) -> bool:
        cached = self._groups.get(group)
        if cached is None or cached[0] < time.monotonic():
            try:
                members = await self._members_of(group)
            except Exception:
                log.exception("could not fetch the members of user group %s", group)
                members = cached[1] if cached else frozenset()  # keep the last known list rather than none
            cached = (time.monotonic() + self._cache_seconds, members)
            self._groups[group] = cached
        return user_id in cached[1]

    async def user_problem(self, user_id: str | None) -> Problem | None:
        p = self.policy
        if not p.allowed_users and not p.allowed_groups:
            return None
        if user_id and user_id in p.allowed_users:
            return None
        for group in sorted(p.allowed_groups):
            if user_id and await self._in_group(user_id, group):
                return None
        log.warning("refused: user %s is not allowed to send", user_id)
        return Problem("provider", "You are not allowed to send messages with this bot: ask an admin to add you.")

    def channel_problem(self, channel_id: str | None, field: Field = "destination") -> Problem | None:
        allowed = self.policy.allowed_channels
        if not allowed or (channel_id and channel_id in allowed):
            return None
        log.warning("refused: channel %s is not allowed", channel_id)
        shown = ", ".join(sorted(allowed))
        return Problem(field, f"The bot may not be used in this conversation; it may be used in {shown}.")

    def country_problems(self, recipients: Iterable[PhoneNumber]) -> list[Problem]:
        allowed = self.policy.allowed_countries
        if not allowed:
            return []
        problems = []
        for number in recipients:
            if number.region not in allowed:
                log.warning("refused: %s is in %s, outside ALLOWED_COUNTRIES", number.masked(), number.region)
                where = number.region or "an unknown country"
                problems.append(
                    Problem("to", f"{number.e164} is in {where}: this bot may only text {', '.join(sorted(allowed))}.")
                )
        return problems
