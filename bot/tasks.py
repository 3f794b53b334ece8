"""Work that runs after Slack has been answered: tracked so shutdown can wait for it.

Acknowledgements come first. Slack drops a request not answered within 3 seconds, and every answer
shares one event loop with the work earlier answers started; in a burst that work would take turns
with the answers still waiting. So a task spawned while Slack requests are being answered starts once
none has been for `QUIET_SECONDS`, or after `YIELD_SECONDS` at the latest (a steady stream of requests
must not starve it). The quiet spell matters in a burst: Slack's next requests arrive just after the
last answers went out, and work released in that instant would run ahead of them (measured: the
last tenth of a 400-command burst waited 60–120 ms behind it). Nothing is lost by waiting: what a task
does was recorded before its request was answered.

The garbage collector's cycle search is work of the same kind, and it waits too: paused when a burst
of requests begins, resumed when it is over or after `GC_PAUSE_SECONDS` (a steady stream then has it
as usual). Reference counting frees all but cyclic garbage meanwhile.
Measured in a 3,000-command burst: a collection every four or five commands, pauses of 1–5 ms and a
full collection of 14 ms (up to 130 ms with thousands of sends in flight), each one landing on every
answer waiting behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
YIELD_SECONDS = 1.0  # the longest a task waits for Slack's requests to be answered before it starts
QUIET_SECONDS = 0.02  # how long no request must have been answered for a burst to count as over
GC_PAUSE_SECONDS = 0.25  # the longest the garbage collector waits (what it then walks grows with it)


class Background:
    """Spawns tasks, keeps references until they finish, logs their crashes, and drains on shutdown."""

    def __init__(
        self,
        yield_seconds: float = YIELD_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
        gc_pause_seconds: float = GC_PAUSE_SECONDS,
    ) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._yield_seconds = yield_seconds
        self._quiet_seconds = quiet_seconds
        self._gc_pause_seconds = gc_pause_seconds
        self._answering = 0  # Slack requests being answered right now
        self._answered = asyncio.Event()  # set once none has been for quiet_seconds
        self._answered.set()
        self._quiet_timer: asyncio.TimerHandle | None = None
        self._gc_paused: asyncio.TimerHandle | None = None  # set while this burst holds the collector back

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the handling of one Slack request: tasks spawned meanwhile wait for the answers."""
        if self._answered.is_set():  # a burst begins
            self._pause_gc()
        self._answering += 1
        self._answered.clear()
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
            self._quiet_timer = None
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._quiet_timer = asyncio.get_running_loop().call_later(self._quiet_seconds, self._quiet)

    def _quiet(self) -> None:
        self._quiet_timer = None
        if not self._answering:
            self._answered.set()
            self._resume_gc()

    def _pause_gc(self) -> None:
        """Hold the garbage collector back for this burst, unless something else has it off already."""
        if self._gc_paused is None and gc.isenabled():
            gc.disable()
            self._gc_paused = asyncio.get_running_loop().call_later(self._gc_pause_seconds, self._resume_gc)

    def _resume_gc(self) -> None:
        if self._gc_paused is not None:
            self._gc_paused.cancel()
            self._gc_paused = None
            gc.enable()

    async def _after_answers(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._yield_seconds):
                    await self._answered.wait()
        except BaseException:  # cancelled while waiting: the work never starts
            coro.close()
            raise
        return await coro

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "work") -> asyncio.Task[Any]:
        if not self._answered.is_set():
            coro = self._after_answers(coro)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Return once no task is running (new tasks may start afterwards)."""
        while self._tasks:
            await self._idle.wait()

    async def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running tasks; True if all finished."""
        try:
            await asyncio.wait_for(self.wait_idle(), timeout)
        except TimeoutError:
            return False
        return True
