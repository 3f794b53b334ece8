"""Frequent reads run whole in a thread of their own, on a synchronous connection.

The async engine's reads cost the event loop one round trip to the driver's thread per step
(check-out, BEGIN, each statement, each fetch, ROLLBACK): the reply bookkeeping reads the sends it
shows for every outcome, so those round trips were a measurable share of a send's CPU (profiled with
bench/run.py --py-spy). Here a read costs the loop one hand-off, like the group-commit writer's
transactions (bot/ledger/_batch.py), and sees what the writer has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine

from bot.ledger._schema import READS_OPTION

T = TypeVar("T")


class SyncReads:
    """Runs read-only functions of a connection in the reader's thread (SQLite: deferred BEGIN)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(**{READS_OPTION: True})
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ledger-reader")

    async def run(self, read: Callable[[Connection], T]) -> T:
        """`read` on a fresh read transaction, rolled back afterwards; its result."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, read)

    def _read(self, read: Callable[[Connection], T]) -> T:
        with self._engine.connect() as conn:
            return read(conn)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
