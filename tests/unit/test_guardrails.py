"""Guardrails: who may send, from where, to which countries; a failing group lookup fails closed."""

from __future__ import annotations

import pytest

from bot.domain.phone import PhoneNumber, parse_number
from bot.guardrails import Guardrails, Policy

pytestmark = pytest.mark.anyio

US, GB = parse_number("+16175550101", None), parse_number("+442079460958", None)


class Groups:
    """Usergroup members as Slack would list them; `down` makes every lookup fail."""

    def __init__(self, **groups: list[str]) -> None:
        self.groups = groups
        self.lookups: list[str] = []
        self.down = False

    async def __call__(self, group: str) -> frozenset[str]:
        self.lookups.append(group)
        if self.down:
            raise ConnectionError("slack is down")
        return frozenset(self.groups.get(group, []))


async def test_no_lists_means_no_restriction():
    rails = Guardrails(Policy(), Groups())
    assert await rails.user_problem("U1") is None and await rails.user_problem(None) is None
    assert rails.channel_problem(None) is None and rails.country_problems([US, GB]) == []


async def test_only_listed_users_may_send():
    rails = Guardrails(Policy(allowed_users=frozenset({"U1"})), Groups())
    assert await rails.user_problem("U1") is None
    problem = await rails.user_problem("U2")
    assert problem is not None and problem.field == "provider" and "not allowed to send" in problem.message
    assert await rails.user_problem(None) is not None


async def test_members_of_an_allowed_group_may_send_and_the_list_is_cached():
    groups = Groups(S1=["U2"], S2=["U3"])
    rails = Guardrails(Policy(allowed_users=frozenset({"U1"}), allowed_groups=frozenset({"S1", "S2"})), groups)
    assert await rails.user_problem("U1") is None and groups.lookups == []  # listed users need no lookup
    assert await rails.user_problem("U3") is None
    assert await rails.user_problem("U2") is None
    assert await rails.user_problem("U9") is not None
    assert sorted(groups.lookups) == ["S1", "S2"]  # each group fetched once, then cached


async def test_a_failing_group_lookup_fails_closed():
    groups = Groups(S1=["U2"])
    groups.down = True
    rails = Guardrails(Policy(allowed_groups=frozenset({"S1"})), groups)
    assert await rails.user_problem("U2") is not None  # members unknown: nobody gets in through the group


async def test_a_failing_refresh_keeps_the_last_known_members():
    groups = Groups(S1=["U2"])
    rails = Guardrails(Policy(allowed_groups=frozenset({"S1"})), groups, cache_seconds=0.0)
    assert await rails.user_problem("U2") is None
    groups.down = True
    assert await rails.user_problem("U2") is None and len(groups.lookups) == 2  # refreshed, failed, kept
    groups.down, groups.groups = False, {"S1": []}
    assert await rails.user_problem("U2") is not None  # removed from the group: refused on refresh


def test_only_listed_channels_and_the_problem_names_the_field():
    rails = Guardrails(Policy(allowed_channels=frozenset({"C2", "C1"})), Groups())
    assert rails.channel_problem("C1") is None
    problem = rails.channel_problem("C9", "text")
    assert problem is not None and problem.field == "text" and problem.message.endswith("it may be used in C1, C2.")
    assert rails.channel_problem(None) is not None


def test_only_listed_countries_one_problem_per_number():
    rails = Guardrails(Policy(allowed_countries=frozenset({"US", "CA"})), Groups())
    assert rails.country_problems([US]) == []
    unknown = PhoneNumber("+99912345", None)
    problems = rails.country_problems([US, GB, unknown])
    assert [p.field for p in problems] == ["to", "to"]
    assert problems[0].message == "+442079460958 is in GB: this bot may only text CA, US."
    assert "an unknown country" in problems[1].message
