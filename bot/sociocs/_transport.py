"""Sociocs's HTTP carried by aiohttp: the client keeps httpx's API, errors and timeouts, and each
request costs a fraction of the CPU.

Under load the bot spent most of its event loop's CPU in httpcore: its pool re-examines every
connection (a `poll` system call each) whenever a request starts or ends, and h11 parses HTTP in
Python. aiohttp (already the Slack client's transport) keeps idle connections in a queue and parses
with llhttp in C. Measured with `bench/run.py --py-spy`: see the README's Performance section.

Two ways in, one exchange: `AiohttpTransport` is an httpx transport (anything the client sends
through `httpx.AsyncClient`), and `direct` is the send path's and the contact lookups' shortcut past
httpx's request building, auth, redirect and cookie handling (about half the CPU of a request, #18),
with the headers httpx would send built once. Both go through `_exchange`, so what the send path
relies on is kept exactly: an error raised before the connection exists is
`httpx.ConnectError`/`ConnectTimeout` (the message provably did not go out, so it may be retried);
anything after is a read/protocol error or `ReadTimeout` (the outcome is unknown, never retried).
Bodies are passed through undecoded and decoded as httpx decodes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import httpx
from multidict import CIMultiDictProxy


def _seconds(timeouts: dict[str, Any], name: str) -> float | None:
    value = timeouts.get(name)
    return float(value) if value is not None else None


def encode_json(body: Any) -> bytes:
    """A JSON body byte for byte as httpx encodes `json=`."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


class Reply(Protocol):
    """What the client reads of an HTTP answer: an `httpx.Response`, or the direct path's `Answer`."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def json(self) -> Any: ...


class Answer:
    """An HTTP answer as the Sociocs client reads it: the parts of `httpx.Response` it uses, and no more."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: CIMultiDictProxy[str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def reason_phrase(self) -> str:
        return httpx.codes.get_reason_phrase(self.status_code)  # as httpx: from the status, not the wire

    def json(self) -> Any:
        return json.loads(self.content)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` connections, kept alive; one aiohttp session, made in the running loop.

    `tls`: whether the client talks https, so its session needs the CA certificates (reading them costs
    some 40 ms of CPU, on the event loop, as the first request is made)."""

    def __init__(self, max_connections: int, *, tls: bool = True) -> None:
        self._limit = max_connections
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # TLS verified exactly as httpx would: certifi's CAs, SSL_CERT_FILE/SSL_CERT_DIR honoured.
                connector=aiohttp.TCPConnector(
                    limit=self._limit, limit_per_host=0, ssl=httpx.create_ssl_context() if self._tls else True
                ),
                auto_decompress=False,  # decoded as httpx decodes, from the headers
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),  # httpx's own are sent
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                trust_env=False,  # a proxy in the environment uses httpx's own transport instead
            )
        return self._session

    def _timeout(self, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get((connect, read))
        if timeout is None:
            timeout = self._timeouts[(connect, read)] = aiohttp.ClientTimeout(
                total=None, sock_connect=connect, sock_read=read
            )
        return timeout

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | list[tuple[str, str]],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        request: httpx.Request | None,
    ) -> tuple[int, CIMultiDictProxy[str], list[tuple[bytes, bytes]], bytes]:
        """One request and its whole answer (status, headers, raw headers, body), or httpx's error for it."""
        try:
            async with self._open().request(
                method, url, headers=headers, data=body, allow_redirects=False, timeout=timeout
            ) as answer:
                content = await answer.read()
                return answer.status, answer.headers, list(answer.raw_headers), content
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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("host", "content-length")]
        body = await request.aread()
        timeout = self._timeout(_seconds(timeouts, "connect"), _seconds(timeouts, "read"))
        status, _, raw, content = await self._exchange(
            request.method, str(request.url), headers, body or None, timeout, request
        )
        return httpx.Response(
            status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw],
            content=content,
            request=request,
        )

    async def direct(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float | None
    ) -> Answer | httpx.Response:
        """`method url` with exactly these headers (the ones httpx would send, built once by the
        caller): the answer, or the same httpx errors as through the transport."""
        status, headers_in, raw, content = await self._exchange(
            method, url, headers, body, self._timeout(timeout, timeout), None
        )
        if "content-encoding" in headers_in:  # rare: decoded (or refused) exactly as httpx does
            return httpx.Response(
                status, headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw], content=content
            )
        return Answer(status, headers_in, content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
