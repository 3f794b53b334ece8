"""Who may send, from where, to which countries, how often: the settings the guardrails apply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    allowed_users: frozenset[str] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    allowed_countries: frozenset[str] = frozenset()
    rate_limit_per_minute: int | None = None
