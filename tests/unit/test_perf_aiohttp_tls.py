"""aiohttp's default TLS contexts read their CAs at their first handshake, not at import (issue 18:
bot/_aiohttp_tls.py), and verify exactly as before: each check runs in a fresh interpreter, where
the bot is imported before aiohttp as `python -m bot` imports it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.test_perf_sociocs_transport import self_signed

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_serving_imports_aiohttp_without_reading_a_ca() -> None:
    found = _run(
        """
        import json, ssl
        import bot.cli
        bot.cli._without_httpx_cli()
        import bot.serve
        import aiohttp.connector as connector

        verified, unverified = connector._SSL_CONTEXT_VERIFIED, connector._SSL_CONTEXT_UNVERIFIED
        stored = lambda context: ssl._SSLContext.cert_store_stats(context)["x509_ca"]  # without loading
        at_import = [stored(verified), stored(unverified)]
        fresh = ssl.create_default_context()
        after = [verified.cert_store_stats()["x509_ca"], unverified.cert_store_stats()["x509_ca"]]
        print(json.dumps({
            "at_import": at_import,
            "after_as_create_default_context": after == [fresh.cert_store_stats()["x509_ca"]] * 2 and after[0] > 0,
            "ssl_contexts": [isinstance(verified, ssl.SSLContext), isinstance(unverified, ssl.SSLContext)],
            "verified": [verified.verify_mode == ssl.CERT_REQUIRED, verified.check_hostname],
            "unverified": [unverified.verify_mode == ssl.CERT_NONE, unverified.check_hostname],
            "same_options": verified.options == fresh.options and verified.protocol == fresh.protocol,
            # ssl itself is untouched: contexts made afterwards, and aiohttp's own name, are ssl's class
            "plain_after": type(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)) is ssl.SSLContext
            and type(fresh) is ssl.SSLContext and connector.SSLContext is ssl.SSLContext,
            "loader": type(connector.__loader__).__name__,
            "loader_as_it_was": "exec_module" not in vars(connector.__loader__),
        }))
        """
    )
    assert found == {
        "at_import": [0, 0],
        "after_as_create_default_context": True,
        "ssl_contexts": [True, True],
        "verified": [True, True],
        "unverified": [True, False],
        "same_options": True,
        "plain_after": True,
        "loader": "SourceFileLoader",
        "loader_as_it_was": True,
    }


# An https server with the given certificate; then, as the bot calls out: the Slack client (aiohttp's
# verified default context), aiohttp with ssl=False (its unverified one), and the Sociocs client (its
# own context, as httpx makes it). Each answers "ok" or the name of the error it raised.
_CALLS = """
import asyncio, json, ssl, sys
import bot.serve
import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from bot.domain.outcome import OutcomeKind
from bot.domain.payload import MessagePayload
from bot.sociocs import SociocsClient

PAYLOAD = MessagePayload(provider="twlo", channel_key="ck-twlo", to="+16175550101", text="Your table is ready")

async def main(cert, key):
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def answer(request):
        if request.path.startswith("/api/"):
            return web.json_response({"ok": True, "user_id": "U1", "team_id": "T1"})
        return web.json_response({"status": "success", "data": {"message_id": "tls-1"}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    found = {"lazy": type(aiohttp.connector._SSL_CONTEXT_VERIFIED) is not ssl.SSLContext}
    try:
        try:
            await AsyncWebClient(token="xoxb-1", base_url=url + "/api/").auth_test()
            found["slack"] = "ok"
        except Exception as exc:
            found["slack"] = type(exc).__name__
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/api/x", ssl=False) as answered:
                found["unverified"] = "ok" if answered.status == 200 else str(answered.status)
        sociocs = SociocsClient(api_key="k:1", base_url=url)
        try:
            outcome = await sociocs.send(PAYLOAD)
        finally:
            await sociocs.aclose()
        found["sociocs"] = "ok" if outcome.kind is OutcomeKind.SENT else outcome.kind.name
    finally:
        await runner.cleanup()
    print(json.dumps(found))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _calls(cert: str, key: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CALLS, cert, key], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_tls_is_verified_as_before(tmp_path: Path) -> None:
    import os

    cert, key = self_signed(tmp_path)
    env = {name: value for name, value in os.environ.items() if name not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    # Untrusted: the Slack client and the Sociocs client refuse the server, before sending anything.
    assert _calls(cert, key, env) == {
        "lazy": True,
        "slack": "ClientConnectorCertificateError",
        "unverified": "ok",
        "sociocs": "FAILED",
    }
    # Trusted through SSL_CERT_FILE (OpenSSL's default paths for aiohttp's context, httpx for Sociocs's):
    # read when the context is first used, as it was read at import.
    assert _calls(cert, key, {**env, "SSL_CERT_FILE": cert}) == {
        "lazy": True,
        "slack": "ok",
        "unverified": "ok",
        "sociocs": "ok",
    }
