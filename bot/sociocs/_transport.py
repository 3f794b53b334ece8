"""httpx's requests carried by aiohttp: the Sociocs client keeps httpx's API, errors and timeouts,
and each request costs a fraction of the CPU.

Under load the bot spent most of its event loop's CPU in httpcore: its pool re-examines every
connection (a `poll` system call each) whenever a request starts or ends, and h11 parses HTTP in
Python. aiohttp (already the Slack client's transport) keeps idle connections in a queue and parses
with llhttp in C. Measured with `bench/run.py --py-spy`: see the README's Performance section.

What the send path relies on is kept exactly: an error raised before the connection exists is
`httpx.ConnectError`/`ConnectTimeout` (the message provably did not go out, so it may be retried);
anything after is a read/protocol error or `ReadTimeout` (the outcome is unknown, never retried).
Bodies are passed through undecoded, so httpx decodes them as it always does.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx


def _seconds(timeouts: dict[str, Any], name: str) -> float | None:
    value = timeouts.get(name)
    return float(value) if value is not None else None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` connections, kept alive; one aiohttp session, made in the running loop."""

    def __init__(self, max_connections: int) -> None:
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # TLS verified exactly as httpx would: certifi's CAs, SSL_CERT_FILE/SSL_CERT_DIR honoured.
                connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=httpx.create_ssl_context()),
                auto_decompress=False,  # httpx decodes, from the headers it is given
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),  # httpx's own are sent
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                trust_env=False,  # a proxy in the environment uses httpx's own transport instead
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=_seconds(timeouts, "connect"), sock_read=_seconds(timeouts, "read")
        )
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("host", "content-length")]
        body = await request.aread()
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as answer:
                content = await answer.read()
                return httpx.Response(
                    answer.status,
                    headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers],
                    content=content,
                    request=request,
                )
        except aiohttp.ConnectionTimeoutError as exc:  # before the connection existed
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:  # before the connection existed
            raise httpx.ConnectError(str(exc) or "could not connect", request=request) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:  # after: the outcome is unknown
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
