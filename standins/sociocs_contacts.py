"""The Sociocs stand-in's contacts and team members, with Sociocs's documented limits.

`GET /contacts/search` refuses a query under 2 characters and a limit over 20 (400); phone numbers in
paths are digits with the country code, with or without a leading plus (`%2B` when encoded); anything
else is a 400. The data is kept per stand-in; tests add contacts and team members and may make the
search fail or hang.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from standins.sociocs import Reply, SociocsStandin

_PATH_NUMBER = re.compile(r"^\+?([1-9]\d{6,14})$")


@dataclass
class ContactsData:
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # digits → contact object
    team_members: list[dict[str, Any]] = field(default_factory=list)
    search_replies: list[Reply] = field(default_factory=list)  # scripted answers to the next searches
    lookup_replies: dict[str, list[Reply]] = field(default_factory=dict)  # digits → next GET /contacts/{phone}


def contact_object(digits: str, name: str, blocked: bool, ident: int) -> dict[str, Any]:
    """A contact as Sociocs shows it (the incoming webhook's shape)."""
    return {
        "id": ident,
        "name": name,
        "phone_number": digits,
        "phone_number_cc": digits,
        "extra_fields": "{}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "is_blocked": 1 if blocked else 0,
    }


def _ok(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def _bad(msg: str, status: int = 400) -> web.Response:
    from standins.sociocs import error_body

    return web.json_response(error_body(msg), status=status)


def _digits(request: web.Request) -> str | None:
    match = _PATH_NUMBER.match(request.match_info["phone"])
    return match.group(1) if match else None


def routes(standin: SociocsStandin, app: web.Application) -> None:
    """Add the contacts and team-members endpoints to the stand-in's app (before its catch-all)."""
    data = standin.contacts_data

    async def guard(request: web.Request, body: Any = None) -> web.Response | None:
        from standins.sociocs import SociocsCall

        ok = standin._apikey_ok(request)
        standin._record(
            SociocsCall(request.method, request.path, body if body is not None else dict(request.query), ok)
        )
        if standin.lookup_latency:
            await asyncio.sleep(standin.lookup_latency)
        return None if ok else _bad("Invalid API key.", 401)

    async def search(request: web.Request) -> web.Response:
        if (refused := await guard(request)) is not None:
            return refused
        with standin._lock:
            reply = data.search_replies.pop(0) if data.search_replies else None
        if reply is not None:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.body is not None or reply.status != 200:
                return web.json_response(reply.body, status=reply.status)
        query = request.query.get("query", "")
        if len(query.strip()) < 2:
            return _bad("query must be at least 2 characters.")
        try:
            limit = int(request.query.get("limit", "20"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return _bad("limit and offset must be numbers.")
        if not 1 <= limit <= 20 or offset < 0:
            return _bad("limit must be between 1 and 20.")
        wanted = query.strip().lower()
        # A query written like a number (digits, +, spaces, dashes, brackets) matches numbers too.
        digits = "".join(ch for ch in wanted if ch.isdigit()) if re.fullmatch(r"[\d+\s().-]+", wanted) else ""
        with standin._lock:
            found = [
                c
                for c in data.contacts.values()
                if wanted in str(c["name"]).lower() or (len(digits) >= 2 and digits in c["phone_number"])
            ]
        found.sort(key=lambda c: (not str(c["name"]).lower().startswith(wanted), str(c["name"]).lower()))
        return _ok(found[offset : offset + limit])

    def by_phone(
        answer: Callable[[str], web.Response], *, scripted: bool = False
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A `/contacts/.../{phone}` route: the key checked, the phone read as digits, then `answer(digits)`
        (`scripted`: a reply a test scripted for the number first, as `script_lookup` says)."""

        async def handle(request: web.Request) -> web.Response:
            if (refused := await guard(request)) is not None:
                return refused
            digits = _digits(request)
            if digits is None:
                return _bad("Invalid phone number.")
            with standin._lock:
                queue = data.lookup_replies.get(digits) if scripted else None
                reply = queue.pop(0) if queue else None
            if reply is not None:
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if reply.body is not None or reply.status != 200:
                    return web.json_response(reply.body, status=reply.status, headers=reply.headers)
            return answer(digits)

        return handle

    def get_one(digits: str) -> web.Response:
        contact = data.contacts.get(digits)
        return _ok(contact) if contact else _bad("Contact not found.", 404)

    def isblocked(digits: str) -> web.Response:
        contact = data.contacts.get(digits)
        return _ok({"is_blocked": bool(contact and contact["is_blocked"])})

    def blocker(blocked: bool) -> Callable[[str], web.Response]:
        def answer(digits: str) -> web.Response:
            with standin._lock:
                contact = data.contacts.setdefault(digits, contact_object(digits, "", False, len(data.contacts) + 1))
                contact["is_blocked"] = 1 if blocked else 0
            return _ok(None)

        return answer

    async def team(request: web.Request) -> web.Response:
        if (refused := await guard(request)) is not None:
            return refused
        return _ok(list(data.team_members))

    app.router.add_get("/contacts/search", search)
    app.router.add_get("/contacts/isblocked/{phone}", by_phone(isblocked))
    app.router.add_post("/contacts/block/{phone}", by_phone(blocker(True)))
    app.router.add_post("/contacts/unblock/{phone}", by_phone(blocker(False)))
    app.router.add_get("/contacts/{phone}", by_phone(get_one, scripted=True))
    app.router.add_get("/team-members", team)
