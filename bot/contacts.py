"""Sociocs contacts and team members for the rest of the bot: names to numbers, blocked numbers, and
which Sociocs team member a Slack user is (the `user_id` that shows the real sender in Sociocs).

Slack-free. Lookups are cached briefly, because the typeahead asks on every keystroke and Slack gives
it 3 s, and because a send should not wait on Sociocs for facts that rarely change: a number's contact
(its name and whether it is blocked) for a few minutes (a block made through the bot updates the cache
at once), team members refreshed every few minutes, searches for a minute.

Whether a number is blocked comes with its contact (`GET /contacts/{phone}` carries `is_blocked`), so a
send asks Sociocs once before it goes, not twice (#18): blocking is something Sociocs does to a contact
("Is contact blocked", "Block contact" in its documentation; blocking a number makes it one), so a
number with no contact is not blocked. Only a contact answer that does not say asks `isblocked`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from bot.sociocs import Contact, ContactsError

log = logging.getLogger(__name__)

BLOCKED_TTL = 300.0
TEAM_TTL = 300.0
SEARCH_TTL = 60.0
MAX_CHOICES = 5  # matches offered when a name is ambiguous
SEARCH_TIMEOUT = 5.0  # a command's lookup, after Slack was answered
TYPEAHEAD_TIMEOUT = 2.0  # inside Slack's 3 s for an options request

K = TypeVar("K")
V = TypeVar("V")


class ContactsApi(Protocol):
    async def search_contacts(self, query: str, *, limit: int = 5, timeout: float | None = None) -> list[Contact]: ...

    async def is_blocked(self, number: str, *, timeout: float | None = None) -> bool: ...

    async def get_contact(self, number: str, *, timeout: float | None = None) -> Contact | None: ...

    async def set_blocked(self, number: str, blocked: bool) -> None: ...

    async def team_members(self) -> list[dict[str, Any]]: ...


class ContactsUnavailable(Exception):
    """Sociocs's contacts could not be asked (an error, a timeout, or no API key in a dry run)."""


class TtlCache(Generic[K, V]):
    """A small dict whose entries expire; at most `size` entries (the oldest go first)."""

    def __init__(self, ttl: float, size: int = 2048) -> None:
        self.ttl = ttl
        self._size = size
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: K, value: V) -> None:
        if len(self._items) >= self._size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (time.monotonic() + self.ttl, value)


@dataclass(frozen=True, slots=True)
class Facts:
    """What Sociocs says of one number: its contact's name ("" for none; None: not asked since a block
    made through the bot) and whether it is blocked (None: Sociocs could not say)."""

    name: str | None
    blocked: bool | None


@dataclass(frozen=True, slots=True)
class Match:
    """A contact found for a name: its number in E.164 and its name."""

    number: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a typed name came to: `matches` (0, 1 or several, at most MAX_CHOICES)."""

    typed: str
    matches: tuple[Match, ...]


def _matches(contacts: list[Contact]) -> tuple[Match, ...]:
    found: dict[str, Match] = {}
    for contact in contacts:
        number = contact.e164
        if number and number not in found:
            found[number] = Match(number, (contact.name or "").strip() or None)
    return tuple(found.values())


def _email_of(member: Mapping[str, Any]) -> str | None:
    value = member.get("email")
    return value.strip().lower() if isinstance(value, str) and "@" in value else None


def _id_of(member: Mapping[str, Any]) -> str | None:
    for key in ("user_id", "id", "_id", "uid"):
        value = member.get(key)
        if isinstance(value, str | int) and str(value):
            return str(value)
    return None


class ContactsService:
    def __init__(
        self,
        api: ContactsApi | None,
        *,
        user_map: Mapping[str, str] | None = None,
        email_of: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        """`api` None (a dry run) makes every lookup unavailable; `email_of` gives a Slack user's e-mail."""
        self._api = api
        self._user_map = dict(user_map or {})
        self._email_of = email_of
        self._searches: TtlCache[tuple[str, int], tuple[Match, ...]] = TtlCache(SEARCH_TTL)
        self._facts: TtlCache[str, Facts] = TtlCache(BLOCKED_TTL, size=10000)
        self._asking: dict[str, asyncio.Future[Facts]] = {}  # one lookup of a number at a time
        self._team: TtlCache[str, list[dict[str, Any]]] = TtlCache(TEAM_TTL, size=1)
        self._team_lock = asyncio.Lock()
        self._senders: TtlCache[str, str] = TtlCache(TEAM_TTL)  # Slack user → team member id ("" for none)
        self._senders_lock = asyncio.Lock()  # one lookup at a time: a send to ten people asks once

    @property
    def available(self) -> bool:
        return self._api is not None

    async def search(
        self, query: str, *, limit: int = MAX_CHOICES, timeout: float = SEARCH_TIMEOUT
    ) -> tuple[Match, ...]:
        """Contacts matching `query`, most relevant first; ContactsUnavailable when Sociocs cannot say."""
        if self._api is None:
            raise ContactsUnavailable("no Sociocs API key (dry run)")
        key = (" ".join(query.lower().split()), limit)
        cached = self._searches.get(key)
        if cached is not None:
            return cached
        try:
            contacts = await asyncio.wait_for(
                self._api.search_contacts(query, limit=limit, timeout=timeout), timeout + 0.5
            )
        except (ContactsError, TimeoutError) as exc:
            raise ContactsUnavailable(str(exc) or "timed out") from None
        found = _matches(contacts)
        self._searches.put(key, found)
        return found

    async def look_up(self, typed: str) -> Lookup:
        """A recipient typed as a name, looked up (ContactsUnavailable when Sociocs cannot say).

        A name that matches one contact's name exactly (any case) wins over partial matches.
        """
        matches = await self.search(typed, limit=MAX_CHOICES)
        exact = tuple(m for m in matches if m.name and m.name.lower() == " ".join(typed.lower().split()))
        if len(exact) == 1:
            return Lookup(typed, exact)
        return Lookup(typed, matches)

    async def is_blocked(self, number: str) -> bool | None:
        """Whether Sociocs has the number blocked; None when it cannot say (the send then goes on)."""
        facts = await self._facts_of(number, want_name=False)
        return None if facts is None else facts.blocked

    async def contact_name(self, number: str) -> str | None:
        """The name of the Sociocs contact with this number; None when there is none or Sociocs cannot
        say (the send goes on without it)."""
        facts = await self._facts_of(number, want_name=True)
        return (facts.name or None) if facts is not None else None

    async def _facts_of(self, number: str, *, want_name: bool) -> Facts | None:
        """The number's facts, cached; a send's blocked check and its name lookup share one request."""
        if self._api is None:
            return None
        cached = self._facts.get(number)
        if cached is not None and (cached.name is not None or not want_name):
            return cached
        asking = self._asking.get(number)
        if asking is None:
            asking = self._asking[number] = asyncio.ensure_future(self._ask(number))
            asking.add_done_callback(lambda done: self._forget_asking(number, done))
        return await asyncio.shield(asking)  # one caller giving up does not cancel the others' answer

    def _forget_asking(self, number: str, done: asyncio.Future[Facts]) -> None:
        if self._asking.get(number) is done:
            del self._asking[number]

    async def _ask(self, number: str) -> Facts:
        """GET /contacts/{phone}: the name, and whether it is blocked (no contact: not blocked); isblocked
        only when the contact's answer does not say. Cached unless blocked is unknown."""
        assert self._api is not None
        asking = self._asking.get(number)
        try:
            contact = await self._api.get_contact(number, timeout=SEARCH_TIMEOUT)
        except ContactsError as exc:
            log.warning("could not ask Sociocs whether a number is blocked: %s", exc)
            return Facts(None, None)
        if contact is None:
            facts = Facts("", False)
        else:
            blocked = contact.is_blocked
            if blocked is None:
                try:
                    blocked = await self._api.is_blocked(number, timeout=SEARCH_TIMEOUT)
                except ContactsError as exc:
                    log.warning("could not ask Sociocs whether a number is blocked: %s", exc)
            facts = Facts((contact.name or "").strip(), blocked)
        # A block made through the bot meanwhile (it forgets this lookup) is newer than this answer.
        if facts.blocked is not None and self._asking.get(number) is asking:
            self._facts.put(number, facts)
        return facts

    async def set_blocked(self, number: str, blocked: bool) -> None:
        """Block or unblock in Sociocs (ContactsUnavailable on failure); the cache follows at once."""
        if self._api is None:
            raise ContactsUnavailable("no Sociocs API key (dry run)")
        try:
            await self._api.set_blocked(number, blocked)
        except ContactsError as exc:
            raise ContactsUnavailable(str(exc)) from None
        known = self._facts.get(number)
        self._asking.pop(number, None)
        self._facts.put(number, Facts(known.name if known is not None else None, blocked))

    async def team_members(self) -> list[dict[str, Any]]:
        """GET /team-members, refreshed every few minutes (ContactsUnavailable on failure)."""
        if self._api is None:
            raise ContactsUnavailable("no Sociocs API key (dry run)")
        async with self._team_lock:
            cached = self._team.get("all")
            if cached is not None:
                return cached
            try:
                members = await self._api.team_members()
            except ContactsError as exc:
                raise ContactsUnavailable(str(exc)) from None
            self._team.put("all", members)
            return members

    async def sociocs_user_id(self, slack_user_id: str | None) -> str | None:
        """The Sociocs team member a Slack user sends as: SOCIOCS_USER_MAP, else the same e-mail; None
        when neither says (the message then shows as sent by "Sociocs API", as before)."""
        if not slack_user_id:
            return None
        if slack_user_id in self._user_map:
            return self._user_map[slack_user_id]
        if self._api is None or self._email_of is None:
            return None
        known = self._senders.get(slack_user_id)
        if known is not None:
            return known or None
        async with self._senders_lock:  # only misses wait here
            known = self._senders.get(slack_user_id)
            if known is None:
                found = await self._by_email(slack_user_id)
                if found is None:
                    return None  # not known either way (a lookup failed): ask again next time
                self._senders.put(slack_user_id, found)
                known = found
        return known or None

    async def _by_email(self, slack_user_id: str) -> str | None:
        """The team member with the Slack user's e-mail: its id, "" when none has it, None when unknown."""
        try:
            email = await self._email_of(slack_user_id) if self._email_of is not None else None
        except Exception as exc:  # a Slack lookup must never stop a send
            log.warning("could not read the e-mail of %s: %s", slack_user_id, type(exc).__name__)
            return None
        if not email:
            return ""
        try:
            members = await self.team_members()
        except ContactsUnavailable as exc:
            log.warning("could not list Sociocs team members: %s", exc)
            return None
        wanted = email.strip().lower()
        for member in members:
            if _email_of(member) == wanted:
                return _id_of(member) or ""
        log.info(
            "no Sociocs team member has the e-mail of %s; %d team members, with the fields %s",
            slack_user_id,
            len(members),
            sorted({str(k) for m in members for k in m}),
        )
        return ""

    async def mapped_users(self, emails: Mapping[str, str]) -> tuple[int, int]:
        """How many Slack users map to a team member: (by SOCIOCS_USER_MAP, by e-mail among `emails`,
        Slack user id → e-mail, leaving out those the map already names)."""
        members = await self.team_members()
        known = {e for m in members if (e := _email_of(m))}
        by_email = sum(1 for user, email in emails.items() if user not in self._user_map and email.lower() in known)
        return len(self._user_map), by_email
