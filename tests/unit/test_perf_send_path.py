"""Issue #18's shortcut on the send path gives what the long way gives: the Sociocs requests made
straight over aiohttp have the same headers, body, errors and cookies as through httpx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.domain.outcome import OutcomeKind
from bot.domain.payload import MessagePayload
from bot.sociocs import SociocsClient
from tests.unit.test_perf_sociocs_transport import closed_port, no_proxy, serve

pytestmark = pytest.mark.anyio
__all__ = ["no_proxy"]  # the fixture, used here too

PAYLOAD = MessagePayload(provider="twlo", channel_key="ck-twlo", to="+16175550101", text="Your table is ready")


async def test_the_send_and_lookups_skip_httpx_and_send_what_httpx_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.headers), await request.read()))
        if request.path == "/message":
            return web.json_response({"status": "success", "data": {"message_id": "m-1"}})
        return web.json_response({"status": "success", "data": {"is_blocked": False}})

    runner, url = await serve(handler)
    client = SociocsClient(api_key="user:secret", base_url=url)
    try:
        # The long way, for comparison: the same request through httpx.
        await client._http.post("/message", json=PAYLOAD.to_json())
        await client._http.get("/contacts/isblocked/16175550101")

        async def no_httpx(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("went through httpx")

        monkeypatch.setattr(client._http, "request", no_httpx)
        assert (await client.send(PAYLOAD)).message_id == "m-1"
        assert await client.is_blocked("+16175550101") is False
    finally:
        await client.aclose()
        await runner.cleanup()
    (post_httpx, get_httpx, post_direct, get_direct) = seen
    for long_way, short_way in ((post_httpx, post_direct), (get_httpx, get_direct)):
        assert short_way[:2] == long_way[:2]
        assert short_way[3] == long_way[3]  # the body byte for byte
        assert {k.lower(): v for k, v in short_way[2].items()} == {k.lower(): v for k, v in long_way[2].items()}


async def test_a_direct_request_never_connected_may_be_retried_and_a_timeout_is_unknown() -> None:
    client = SociocsClient(api_key="k:1", base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(httpx.ConnectError):
            await client._request("GET", "/contacts/isblocked/1617")
        outcome = await client.send(PAYLOAD)
    finally:
        await client.aclose()
    assert outcome.kind is OutcomeKind.FAILED and outcome.retryable


async def test_cookies_sociocs_sets_are_sent_back_as_httpx_would() -> None:
    cookies: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        answer = web.json_response({"status": "success", "data": {"message_id": "m"}})
        answer.set_cookie("session", "abc")
        return answer

    runner, url = await serve(handler)
    client = SociocsClient(api_key="k:1", base_url=url)
    try:
        await client.send(PAYLOAD)
        await client.send(PAYLOAD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert cookies == [None, "session=abc"]
