"""The contacts service on its own: who sends (map, e-mail), caches, and failures that never stop a send."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from bot.contacts import ContactsService, ContactsUnavailable
from bot.sociocs import Contact, ContactsError, SociocsClient

pytestmark = pytest.mark.anyio


class FakeApi:
    def __init__(self, members: list[dict[str, Any]] | None = None, contacts: list[Contact] | None = None) -> None:
        self.members = members or []
        self.contacts = contacts or []
        self.calls: list[str] = []
        self.fail = False
        self.blocked: dict[str, bool] = {}
        self.delay = 0.0

    async def search_contacts(self, query: str, *, limit: int = 5, timeout: float | None = None) -> list[Contact]:
        self.calls.append(f"search {query}")
        if self.fail:
            raise ContactsError("HTTP 503: down")
        return self.contacts[:limit]

    async def is_blocked(self, number: str, *, timeout: float | None = None) -> bool:
        self.calls.append(f"isblocked {number}")
        if self.fail:
            raise ContactsError("HTTP 503: down")
        return self.blocked.get(number, False)

    async def get_contact(self, number: str, *, timeout: float | None = None) -> Contact | None:
        self.calls.append(f"get {number}")
        if self.fail:
            raise ContactsError("HTTP 503: down")
        found = next((c for c in self.contacts if c.e164 == number), None)
        if found is None and number in self.blocked:  # Sociocs blocks contacts: blocking made one
            found = Contact(name="", phone_number=number[1:], is_blocked=int(self.blocked[number]))
        await asyncio.sleep(self.delay)  # the answer as it was when asked
        return found

    async def set_blocked(self, number: str, blocked: bool) -> None:
        self.calls.append(f"block {number} {blocked}")
        self.blocked[number] = blocked

    async def team_members(self) -> list[dict[str, Any]]:
        self.calls.append("team")
        return self.members


def emails(table: dict[str, str | None]) -> Any:
    async def email_of(user: str) -> str | None:
        return table.get(user)

    return email_of


async def test_the_map_wins_then_the_email_case_insensitively_then_nothing(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(members=[{"id": 7, "email": "Ann@Example.COM", "name": "Ann"}, {"user_id": "u-9", "email": "b@x.io"}])
    service = ContactsService(
        api, user_map={"U1": "mapped"}, email_of=emails({"U1": "b@x.io", "U2": "ann@example.com", "U3": "c@x.io"})
    )
    assert await service.sociocs_user_id("U1") == "mapped"
    assert await service.sociocs_user_id("U2") == "7"
    with caplog.at_level(logging.INFO, logger="bot.contacts"):
        assert await service.sociocs_user_id("U3") is None
    assert "['email', 'id', 'name', 'user_id']" in caplog.text and "c@x.io" not in caplog.text
    assert "Ann" not in caplog.text
    assert await service.sociocs_user_id(None) is None
    assert api.calls.count("team") == 1  # cached between lookups


async def test_no_api_means_no_user_id_and_no_lookup() -> None:
    service = ContactsService(None, user_map={"U1": "mapped"})
    assert await service.sociocs_user_id("U1") == "mapped"
    assert await service.sociocs_user_id("U2") is None
    assert await service.is_blocked("+16175551212") is None
    with pytest.raises(ContactsUnavailable):
        await service.search("jane")


async def test_isblocked_is_cached_and_follows_a_block_at_once() -> None:
    api = FakeApi()
    service = ContactsService(api)
    assert await service.is_blocked("+16175551212") is False
    assert await service.is_blocked("+16175551212") is False
    await service.set_blocked("+16175551212", True)
    assert await service.is_blocked("+16175551212") is True
    assert await service.contact_name("+16175551212") is None
    assert api.calls == ["get +16175551212", "block +16175551212 True"]
    await service.set_blocked("+16175550000", True)  # never looked up: blocked is known, the name is not
    assert await service.is_blocked("+16175550000") is True
    assert await service.contact_name("+16175550000") is None
    assert api.calls[2:] == ["block +16175550000 True", "get +16175550000"]


async def test_a_send_asks_once_for_the_name_and_whether_blocked_and_no_contact_is_not_blocked() -> None:
    """GET /contacts/{phone} says both (#18): a blocked check and a name lookup at once make one request."""
    api = FakeApi(contacts=[Contact(name=" Jane Doe ", phone_number="16175551212", is_blocked=1)])
    api.delay = 0.01
    service = ContactsService(api)
    blocked, name = await asyncio.gather(service.is_blocked("+16175551212"), service.contact_name("+16175551212"))
    assert (blocked, name) == (True, "Jane Doe")
    assert await service.is_blocked("+16175559999") is False  # no contact: nothing Sociocs could block
    assert await service.contact_name("+16175559999") is None
    assert api.calls == ["get +16175551212", "get +16175559999"]


async def test_a_contact_that_does_not_say_whether_it_is_blocked_asks_isblocked() -> None:
    api = FakeApi(contacts=[Contact(name="Jane", phone_number="16175551212")])
    api.blocked["+16175551212"] = True
    service = ContactsService(api)
    assert await service.is_blocked("+16175551212") is True
    assert await service.contact_name("+16175551212") == "Jane"
    assert api.calls == ["get +16175551212", "isblocked +16175551212"]


async def test_a_block_made_while_a_lookup_is_out_is_what_the_cache_keeps() -> None:
    api = FakeApi()
    api.delay = 0.05
    service = ContactsService(api)
    looking = asyncio.ensure_future(service.is_blocked("+16175551212"))
    await asyncio.sleep(0.01)
    await service.set_blocked("+16175551212", True)
    assert await looking is False  # asked before the block
    assert await service.is_blocked("+16175551212") is True


async def test_a_failing_lookup_says_unknown_is_asked_again_and_a_failing_search_is_unavailable() -> None:
    api = FakeApi()
    api.fail = True
    service = ContactsService(api)
    assert await service.is_blocked("+16175551212") is None
    assert await service.contact_name("+16175551212") is None
    assert api.calls == ["get +16175551212", "get +16175551212"]
    with pytest.raises(ContactsUnavailable):
        await service.search("jane")


@pytest.mark.parametrize(
    ("sent", "read"), [(1, True), (0, False), ("1", True), ("false", False), (None, None), ("maybe", None)]
)
def test_a_contacts_blocked_flag_is_read_as_sociocs_writes_it_and_anything_else_is_unknown(
    sent: object, read: bool | None
) -> None:
    assert Contact.model_validate({"name": "x", "is_blocked": sent}).is_blocked is read


async def test_an_exact_name_wins_over_partial_matches_and_searches_are_cached() -> None:
    api = FakeApi(
        contacts=[
            Contact(name="Jane Doe", phone_number="16175551212"),
            Contact(name="Jane Doerr", phone_number_cc="16175551213"),
            Contact(name="No Number"),
        ]
    )
    service = ContactsService(api)
    assert [m.number for m in (await service.look_up("jane  doe")).matches] == ["+16175551212"]
    assert [m.number for m in (await service.look_up("Jane")).matches] == ["+16175551212", "+16175551213"]
    await service.look_up("jane doe")
    assert api.calls == ["search jane  doe", "search Jane"]


async def test_the_client_puts_digits_in_paths_and_refuses_short_queries() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query.decode()} {request.headers['apikey']}")
        if request.url.path.startswith("/contacts/isblocked/"):
            return httpx.Response(200, json={"status": "success", "data": {"is_blocked": 1}})
        if request.url.path == "/team-members":
            return httpx.Response(200, json={"status": "success", "data": [{"id": 1}]})
        return httpx.Response(200, json={"status": "success", "data": []})

    client = SociocsClient(api_key="k:1", transport=httpx.MockTransport(answer))
    try:
        assert await client.is_blocked("+16175551212") is True
        assert await client.search_contacts("ja", limit=50) == []
        assert await client.team_members() == [{"id": 1}]
        with pytest.raises(ContactsError):
            await client.search_contacts(" j ")
    finally:
        await client.aclose()
    assert seen == [
        "GET /contacts/isblocked/16175551212? k:1",
        "GET /contacts/search?query=ja&limit=20 k:1",
        "GET /team-members? k:1",
    ]


async def test_a_contacts_name_is_looked_up_once_and_none_is_remembered_too() -> None:
    api = FakeApi(contacts=[Contact(name=" Jane Doe ", phone_number="16175551212", is_blocked=0)])
    service = ContactsService(api)
    assert await service.contact_name("+16175551212") == "Jane Doe"
    assert await service.contact_name("+16175551212") == "Jane Doe"
    assert await service.contact_name("+16175550000") is None
    assert await service.contact_name("+16175550000") is None
    assert api.calls == ["get +16175551212", "get +16175550000"]


async def test_a_send_to_many_asks_slack_and_sociocs_once_for_its_sender() -> None:
    import asyncio

    asked: list[str] = []

    async def email_of(user: str) -> str | None:
        asked.append(user)
        await asyncio.sleep(0.01)
        return "ann@example.com"

    api = FakeApi(members=[{"id": "tm-ann", "email": "ann@example.com"}])
    service = ContactsService(api, email_of=email_of)
    found = await asyncio.gather(*(service.sociocs_user_id("U2") for _ in range(10)))
    assert found == ["tm-ann"] * 10 and asked == ["U2"] and api.calls == ["team"]


@pytest.mark.parametrize(
    ("status", "body", "read"),
    [
        (404, {"status": "error", "errors": [{"msg": "Contact not found."}]}, "none"),
        (200, {"status": "success", "data": None}, "none"),
        (200, {"status": "success", "data": {"name": "Jane", "is_blocked": 1}}, "contact"),
        (200, {"status": "success", "data": [{"name": "Jane"}]}, "unknown"),
        (200, {"status": "success", "data": {"name": {"first": "Jane"}}}, "unknown"),
    ],
)
async def test_a_contact_answer_that_cannot_be_read_is_unknown_never_no_contact(
    status: int, body: Any, read: str
) -> None:
    """A send's blocked check rests on GET /contacts/{phone} (#18): only a clear "none" means no contact."""
    client = SociocsClient(api_key="k", transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body)))
    try:
        try:
            contact = await client.get_contact("+16175551212")
        except ContactsError:
            got = "unknown"
        else:
            got = "none" if contact is None else "contact"
    finally:
        await client.aclose()
    assert got == read
