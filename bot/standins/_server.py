"""Running an aiohttp application on loopback, in the current event loop or in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class LocalServer:
    """Base of the stand-ins: records calls and serves `self.web_app()` on 127.0.0.1."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._calls: list[Any] = []
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.url = ""

    def web_app(self) -> web.Application:
        raise NotImplementedError

    # Recording --------------------------------------------------------------------------------------

    def _record(self, call: Any) -> None:
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()

    @property
    def calls(self) -> list[Any]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for(self, predicate: Callable[[list[Any]], T], timeout: float = 10.0) -> T:
        """Block until `predicate(calls)` is truthy and return its value; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate(list(self._calls))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting; calls so far: {self._calls!r}")
                self._lock.wait(remaining)

    # Serving ----------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in the running event loop; returns the base URL."""
        self._runner = web.AppRunner(self.web_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets, "the stand-in did not bind a socket"
        bound = sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread with its own loop (for synchronous tests and scripts)."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start(host, port))
            except BaseException as exc:  # surfaced to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self.url

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None
