"""The Sociocs client's default transport (httpx over aiohttp, bot/sociocs/_transport.py) against a real
local server: the same requests, answers and errors as httpx's own, so every outcome is classified as
before: a connection never made may be retried; anything after it is "unknown", never retried."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.domain.outcome import OutcomeKind
from bot.domain.payload import MessagePayload
from bot.sociocs import SociocsClient
from bot.sociocs._transport import AiohttpTransport

pytestmark = pytest.mark.anyio

PAYLOAD = MessagePayload(provider="twlo", channel_key="ck-twlo", to="+16175550101", text="Your table is ready")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_client_uses_it_by_default_and_httpx_own_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    client = SociocsClient(api_key="k:1")
    assert isinstance(client._http._transport, AiohttpTransport)
    await client.aclose()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = SociocsClient(api_key="k:1")
    assert not isinstance(client._http._transport, AiohttpTransport)
    await client.aclose()


async def test_a_send_goes_out_as_httpx_would_send_it_and_its_answer_is_read() -> None:
    seen: list[tuple[dict[str, str], list[str], Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), list(request.headers.keys()), await request.json()))
        body = gzip.compress(json.dumps({"status": "success", "data": {"message_id": "m-1"}}).encode())
        return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    runner, url = await serve(handler)
    client = SociocsClient(api_key="user:secret", base_url=url)
    try:
        outcome = await client.send(PAYLOAD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert outcome.kind is OutcomeKind.SENT and outcome.message_id == "m-1"  # gzip decoded by httpx
    ((headers, names, body),) = seen
    assert body == PAYLOAD.to_json()
    assert headers["apikey"] == "user:secret"
    assert headers["User-Agent"] == "sociocs-slack-bot"
    assert headers["Content-Type"] == "application/json"
    assert [n.lower() for n in names].count("host") == 1
    assert [n.lower() for n in names].count("content-length") == 1


async def test_connections_are_limited_and_kept() -> None:
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
    transport = AiohttpTransport(10)
    try:
        async with httpx.AsyncClient(base_url=url, transport=transport) as client:
            answers = await asyncio.gather(*(client.get(f"/{i}") for i in range(40)))
            assert [a.status_code for a in answers] == [200] * 40
            assert [a.json() for a in answers[:1]] == [{"ok": True}]
    finally:
        await runner.cleanup()
    assert peak == 10
    assert len(peers) == 10  # kept alive and reused


async def test_no_connection_is_a_connect_error_so_the_send_may_be_retried() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{closed_port()}", transport=AiohttpTransport(4)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/")
    client2 = SociocsClient(api_key="k:1", base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        outcome = await client2.send(PAYLOAD)
    finally:
        await client2.aclose()
    assert outcome.kind is OutcomeKind.FAILED and outcome.retryable


async def test_no_answer_in_time_is_a_read_timeout_so_the_outcome_is_unknown() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        return web.json_response({"status": "success", "data": {"message_id": "late"}})

    runner, url = await serve(hang)
    client = SociocsClient(api_key="k:1", base_url=url, timeout=0.2)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client._http.get("/x")
        outcome = await client.send(PAYLOAD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert outcome.kind is OutcomeKind.UNKNOWN and not outcome.retryable


async def test_a_connection_dropped_after_the_request_is_unknown_not_retried() -> None:
    async def drop(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()  # the request arrived; no answer comes
        await asyncio.sleep(0.1)
        return web.Response()

    runner, url = await serve(drop)
    client = SociocsClient(api_key="k:1", base_url=url)
    try:
        with pytest.raises(httpx.TransportError) as caught:
            await client._http.post("/message", json={})
        assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
        outcome = await client.send(PAYLOAD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert outcome.kind is OutcomeKind.UNKNOWN and not outcome.retryable


def self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_is_verified_as_httpx_verifies_it(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": {"message_id": "tls-1"}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        untrusted = SociocsClient(api_key="k:1", base_url=url)  # certifi's CAs do not know this certificate
        try:
            outcome = await untrusted.send(PAYLOAD)
        finally:
            await untrusted.aclose()
        assert outcome.kind is OutcomeKind.FAILED and outcome.retryable  # refused before anything was sent
        monkeypatch.setenv("SSL_CERT_FILE", cert)  # as httpx: a CA file named in the environment is trusted
        trusted = SociocsClient(api_key="k:1", base_url=url)
        try:
            outcome = await trusted.send(PAYLOAD)
        finally:
            await trusted.aclose()
        assert outcome.kind is OutcomeKind.SENT and outcome.message_id == "tls-1"
    finally:
        await runner.cleanup()


async def test_an_http_sociocs_reads_no_ca_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an https base URL needs the CA certificates (some 40 ms of CPU on the event loop at the first
    request): a plain-http one (a local stand-in, a sidecar) never reads them."""

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": {"message_id": "m1"}})

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the CA certificates were read")

    runner, url = await serve(ok)
    monkeypatch.setattr(httpx, "create_ssl_context", refuse)
    client = SociocsClient(api_key="k:1", base_url=url)
    try:
        outcome = await client.send(PAYLOAD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert outcome.kind is OutcomeKind.SENT
