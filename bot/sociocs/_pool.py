"""Sociocs connections in several small pools instead of one large one.

httpcore's connection pool re-examines every connection it holds each time a request starts or ends:
it asks the socket of each idle one whether the server closed it (a `poll` system call each), counts
the idle ones once per idle one, and matches every queued request against every connection. That is
quadratic in the pool's size: at 64-128 connections it was about 70% of the event loop's CPU under
load (profiled with `bench/run.py --py-spy`). The same connections split into pools of at most
SHARD_SIZE cost a few hundredths of that, and each request goes to the least busy pool, so the
total limit holds and no pool queues while another has room.

Only the public httpx transport interface is used: requests, responses, errors and timeouts behave
exactly as with one `httpx.AsyncHTTPTransport`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from types import TracebackType

import httpx

SHARD_SIZE = 8  # connections per pool: the pool's bookkeeping grows with the square of this


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool's counter when it is closed (the connection is free again)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._done()

    def _done(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` connections in pools of at most SHARD_SIZE; a request goes to the
    pool with the fewest requests in flight."""

    def __init__(self, max_connections: int, shard_size: int = SHARD_SIZE) -> None:
        count = max(1, math.ceil(max_connections / shard_size))
        base, extra = divmod(max(max_connections, count), count)
        sizes = [base + (1 if i < extra else 0) for i in range(count)]
        self._shards = [
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)) for n in sizes
        ]
        self._busy = [0] * count

    @property
    def shards(self) -> int:
        return len(self._shards)

    def in_flight(self) -> int:
        """Requests sent and not yet finished (their bodies not closed)."""
        return sum(self._busy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[index] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._busy[index] -= 1

        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()
