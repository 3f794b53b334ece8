"""Frequent reads run whole in a thread of their own, on a synchronous connection, in batches.

The async engine's reads cost the event loop one round trip to the driver's thread per step
(check-out, BEGIN, each statement, each fetch, ROLLBACK): the reply bookkeeping reads the sends it
shows for every outcome, so those round trips were a measurable share of a send's CPU (profiled with
bench/run.py --py-spy). Here reads cost the loop one hand-off, like the group-commit writer's
transactions (bot/ledger/_batch.py), and see what the writer has committed.

The hand-off itself is most of a read's cost (on the bench machine, 150 µs of CPU for the thread's
wake-up and the interpreter lock passing back and forth, 30 µs for the connection, 20 µs for a
prepared read), so the reads waiting when the thread is free go together: one hand-off and one
connection for all of them, each read's failure its own (#18).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from bot.ledger._schema import READS_OPTION

T = TypeVar("T")
_Read = Callable[[Connection], Any]


class SyncReads:
    """Runs read-only functions of a connection in the reader's thread (SQLite: deferred BEGIN).

    Reads asked for while the thread is busy run together next, in one read transaction begun after
    the last of them was asked for: each sees everything committed before it was asked for."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(**{READS_OPTION: True})
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ledger-reader")
        self._waiting: list[tuple[_Read, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # hand-offs to the thread, and the reads in them (for measurements)
        self.reads = 0

    async def run(self, read: Callable[[Connection], T]) -> T:
        """`read` on a read transaction, rolled back afterwards; its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiting.append((read, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(), name="ledger-reads")
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, []
            live = [(read, future) for read, future in batch if not future.done()]  # not given up on
            if not live:
                continue
            try:
                answers = await loop.run_in_executor(self._thread, self._read_all, [read for read, _ in live])
            except Exception as exc:  # no connection: every read fails as it would have alone
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.reads += len(live)
            for (_, future), (failed, value) in zip(live, answers, strict=True):
                if future.done():
                    continue
                if failed:
                    future.set_exception(value)
                else:
                    future.set_result(value)

    def _read_all(self, reads: Sequence[_Read]) -> list[tuple[bool, Any]]:
        answers: list[tuple[bool, Any]] = []
        with self._engine.connect() as conn:
            for read in reads:
                try:
                    answers.append((False, read(conn)))
                except Exception as exc:
                    answers.append((True, exc))
                    conn.rollback()  # PostgreSQL refuses more statements in a failed transaction
        return answers

    def close(self) -> None:
        self._thread.shutdown(wait=True)
