"""Run something per key at most once per `delay` seconds, however often it is asked for.

The Home tab is refreshed when something of its viewer's changes; a burst of changes (twenty customer
messages, a send to ten people) becomes one views.publish after the burst, not one per change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Debouncer:
    def __init__(self, delay: float, run: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.delay = delay
        self.run = run
        self._pending: dict[str, asyncio.Task[None]] = {}

    def request(self, key: str) -> None:
        """Run for `key` after `delay` (a request while one is pending joins it)."""
        if self.run is None or key in self._pending:
            return
        self._pending[key] = asyncio.get_running_loop().create_task(self._later(key), name="debounced")

    async def _later(self, key: str) -> None:
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._pending.pop(key, None)
        if self.run is not None:
            try:
                await self.run(key)
            except Exception:
                log.exception("a debounced refresh failed")

    async def flush(self) -> None:
        """Wait for the pending runs (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

    def cancel(self) -> None:
        """Drop the pending runs (the bot is closing)."""
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()
