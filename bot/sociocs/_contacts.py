"""Sociocs contacts and team members: search, get, isblocked, block/unblock, team members.

A mixin of `SociocsClient` (it shares the client's pooled connections and `apikey` header). Phone
numbers go in paths as digits with the country code, no plus, as Sociocs documents. Every failure is
a `SociocsError` with a readable reason that never carries the key or a full number.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from bot.sociocs._transport import Reply

SEARCH_LIMIT_MAX = 20  # Sociocs's documented maximum for GET /contacts/search
SEARCH_QUERY_MIN = 2  # Sociocs refuses shorter queries


class ContactsError(RuntimeError):
    """A contacts or team-members call that did not give a usable answer."""


class Contact(BaseModel):
    """A Sociocs contact, as far as the bot uses it. Sociocs sends more (extra_fields, dates)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str | None = None
    name: str | None = None
    phone_number: str | None = None
    phone_number_cc: str | None = None
    is_blocked: bool | None = None  # None: the answer did not say

    @field_validator("is_blocked", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        """1/0 as documented; true/false and their strings read the same way, anything else is unknown."""
        if isinstance(value, str):
            return {"1": True, "true": True, "0": False, "false": False}.get(value.strip().lower())
        return bool(value) if isinstance(value, bool | int) else None

    @property
    def e164(self) -> str | None:
        """The number as `+digits`: `phone_number_cc` when it holds a whole number, else `phone_number`.

        The documentation says `phone_number` is digits and is silent on `phone_number_cc`; whichever
        holds a whole international number (8 or more digits) is taken.
        """
        for raw in (self.phone_number_cc, self.phone_number):
            digits = "".join(ch for ch in (raw or "") if ch.isdigit())
            if len(digits) >= 8:
                return "+" + digits
        return None


def path_digits(number: str) -> str:
    """`+16175551212` → `16175551212`: the form Sociocs takes in paths."""
    return "".join(ch for ch in number if ch.isdigit())


def _reason(response: Reply, body: Any) -> str:
    """`HTTP 400: <Sociocs's errors[].msg>` (the same reading as the send path's)."""
    msgs: list[str] = []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        msgs = [str(e["msg"]) for e in body["errors"] if isinstance(e, dict) and e.get("msg")]
    return f"HTTP {response.status_code}: {'; '.join(msgs) or response.reason_phrase or 'error'}"


class ContactsMixin:
    """Contacts endpoints; mixed into `SociocsClient`, which provides `_http`."""

    _http: httpx.AsyncClient
    _lookup_slots: asyncio.Semaphore

    async def _request(self, method: str, path: str, *, json: Any = None, timeout: float | None = None) -> Reply:
        raise NotImplementedError  # SociocsClient's

    async def _call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """One call; the `data` of a success answer, or ContactsError."""
        try:
            # Slots of their own, as many as the sends': waiting here is cheap, in the pool it is not.
            async with self._lookup_slots:
                response: Reply
                if params:  # a query: httpx encodes it (searches are rare next to sends)
                    extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout, pool=None)}
                    response = await self._http.request(method, path, params=params, **extra)
                else:
                    response = await self._request(method, path, timeout=timeout)
        except httpx.TimeoutException:
            raise ContactsError("Sociocs did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ContactsError(f"could not reach Sociocs ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise ContactsError(_reason(response, body))
        if isinstance(body, dict):
            if body.get("status") == "error":
                raise ContactsError(_reason(response, body))
            return body.get("data", body)
        return body

    async def search_contacts(self, query: str, *, limit: int = 5, timeout: float | None = None) -> list[Contact]:
        """GET /contacts/search: most relevant first. The query must have 2 characters, the limit ≤ 20."""
        query = query.strip()
        if len(query) < SEARCH_QUERY_MIN:
            raise ContactsError(f"a contact search needs at least {SEARCH_QUERY_MIN} characters")
        params = {"query": query, "limit": max(1, min(limit, SEARCH_LIMIT_MAX))}
        data = await self._call("GET", "/contacts/search", params=params, timeout=timeout)
        if not isinstance(data, list):
            raise ContactsError("unexpected reply to GET /contacts/search")
        return [Contact.model_validate(item) for item in data if isinstance(item, dict)]

    async def get_contact(self, number: str, *, timeout: float | None = None) -> Contact | None:
        """GET /contacts/{phone}; None when Sociocs has no such contact (404, or no data).

        A send's blocked check rests on this answer, so one that cannot be read is a ContactsError
        (unknown), never taken for "no contact"."""
        try:
            data = await self._call("GET", f"/contacts/{path_digits(number)}", timeout=timeout)
        except ContactsError as exc:
            if str(exc).startswith("HTTP 404"):
                return None
            raise
        if data is None:
            return None
        try:
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return Contact.model_validate(data)
        except ValueError:  # pydantic's ValidationError is a ValueError
            raise ContactsError("unexpected reply to GET /contacts/{phone}") from None

    async def is_blocked(self, number: str, *, timeout: float | None = None) -> bool:
        """GET /contacts/isblocked/{phone}."""
        data = await self._call("GET", f"/contacts/isblocked/{path_digits(number)}", timeout=timeout)
        if not isinstance(data, dict) or "is_blocked" not in data:
            raise ContactsError("unexpected reply to GET /contacts/isblocked")
        return bool(data["is_blocked"])

    async def set_blocked(self, number: str, blocked: bool) -> None:
        """POST /contacts/block/{phone} or /contacts/unblock/{phone}."""
        verb = "block" if blocked else "unblock"
        await self._call("POST", f"/contacts/{verb}/{path_digits(number)}")

    async def team_members(self) -> list[dict[str, Any]]:
        """GET /team-members: their fields are not documented, so they are returned as Sociocs sent them."""
        data = await self._call("GET", "/team-members")
        if isinstance(data, dict):  # tolerate {"team_members": [...]} or similar
            lists = [v for v in data.values() if isinstance(v, list)]
            data = lists[0] if len(lists) == 1 else None
        if not isinstance(data, list):
            raise ContactsError("unexpected reply to GET /team-members")
        return [m for m in data if isinstance(m, dict)]
