"""The Sociocs connections in small pools (bot/sociocs/_pool.py): the limit holds, requests spread,
errors are httpx's own, and a closed response frees its slot."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from aiohttp import web

from bot.sociocs import SociocsClient
from bot.sociocs._pool import ShardedTransport

pytestmark = pytest.mark.anyio


async def serve(handler: web.Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_limit_holds_across_pools_and_slots_are_freed() -> None:
    peers: set[object] = set()
    active = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal active, peak
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.json_response({"ok": True})

    runner, url = await serve(slow)
    transport = ShardedTransport(10, shard_size=4)
    assert transport.shards == 3
    try:
        async with httpx.AsyncClient(base_url=url, transport=transport) as client:
            answers = await asyncio.gather(*(client.get(f"/{i}") for i in range(40)))
            assert [a.status_code for a in answers] == [200] * 40
            assert transport.in_flight() == 0
            assert peak == 10  # every pool full at once, and never more than the total
            assert len(peers) == 10  # connections are kept and reused
    finally:
        await runner.cleanup()


async def test_connect_error_is_httpx_and_frees_the_slot() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = ShardedTransport(4)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/")
    assert transport.in_flight() == 0


async def test_read_timeout_is_httpx_and_frees_the_slot() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        return web.Response()

    runner, url = await serve(hang)
    transport = ShardedTransport(4)
    try:
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/")
        assert transport.in_flight() == 0
    finally:
        await runner.cleanup()


async def test_the_client_uses_small_pools_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = SociocsClient(api_key="k:1", max_in_flight=128)
    try:
        transport = client._http._transport
        assert isinstance(transport, ShardedTransport)
        assert transport.shards == 16
    finally:
        await client.aclose()


async def test_a_configured_proxy_keeps_httpx_own_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = SociocsClient(api_key="k:1")
    try:
        assert not isinstance(client._http._transport, ShardedTransport)
    finally:
        await client.aclose()
