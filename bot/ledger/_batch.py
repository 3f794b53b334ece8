"""Group commit: concurrent ledger writes share one transaction, and writes of one kind share statements.

Every accepted send is written down before Slack gets its answer. One transaction per request made
fifty concurrent acknowledgements queue behind one SQLite writer (about 1.3 s at the 99th percentile,
measured), and so does one statement per request: on a busy event loop each statement's round trip to
the database driver costs a loop iteration. So writes are grouped twice: every write waiting when a
transaction starts goes into it, and writes of the same kind (all reservations, all "pending" marks,
all outcomes) are executed together by one operation, a few `executemany` statements for the lot.
There is no fixed batching window: while one transaction commits, the next writes gather.

A transaction runs whole in the writer's own thread, on a synchronous connection: on a busy event loop
every statement's round trip to an async driver costs a loop iteration (tens of milliseconds under
load, measured), so the loop pays one round trip per transaction instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

# An operation writes a list of like requests in the given connection and returns one result each.
Operation = Callable[[Connection, Sequence[Any]], Sequence[Any]]
MAX_URGENT = 256
MAX_BACKGROUND = 256


class _GroupFailed(Exception):
    def __init__(self, members: list[int], error: BaseException) -> None:
        super().__init__(str(error))
        self.members = members
        self.error = error


@dataclass
class _Pending:
    operation: Operation
    request: Any
    future: asyncio.Future[Any]
    locks: tuple[str, ...]
    alone: bool = False  # its group failed once: run it on its own to find the culprit


class GroupCommit:
    """Runs write requests in shared transactions, one transaction at a time.

    `urgent` requests (Slack is waiting for the acknowledgement) go before background ones. `locks`
    name PostgreSQL advisory locks a request needs (a user's rate-limit count); a transaction takes all
    of its requests' locks up front, sorted, so replicas batching different users cannot deadlock.
    A request whose operation raises fails alone: the transaction is rolled back and run again with
    that group's requests one by one. A database that cannot be reached, or a failed commit, fails the
    whole transaction: nobody can tell what reached the disk.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        self._urgent: list[_Pending] = []
        self._background: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None
        self.transactions = 0  # committed transactions and the requests in them (for measurements)
        self.requests = 0

    async def run(
        self, operation: Operation, request: Any, *, locks: tuple[str, ...] = (), urgent: bool = False
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._background).append(_Pending(operation, request, future, locks))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain(), name="ledger-group-commit")
        return await future

    async def _drain(self) -> None:
        while self._urgent or self._background:
            urgent, self._urgent = self._urgent[:MAX_URGENT], self._urgent[MAX_URGENT:]
            background, self._background = self._background[:MAX_BACKGROUND], self._background[MAX_BACKGROUND:]
            await self._commit(urgent + background)

    async def _commit(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]  # a caller that gave up (cancelled) is skipped
        while live:
            try:
                results = await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, live)
            except _GroupFailed as failed:
                if len(failed.members) == 1:
                    culprit = live.pop(failed.members[0])
                    if not culprit.future.done():
                        culprit.future.set_exception(failed.error)
                else:
                    for index in failed.members:
                        live[index].alone = True
                continue
            except Exception as exc:
                for pending in live:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                return
            self.transactions += 1
            self.requests += len(live)
            for pending, result in zip(live, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)
            return

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    def _transaction(self, batch: list[_Pending]) -> list[Any]:
        groups: dict[object, list[int]] = {}
        for index, pending in enumerate(batch):
            key: object = (pending.operation, index) if pending.alone else pending.operation
            groups.setdefault(key, []).append(index)
        results: list[Any] = [None] * len(batch)
        with self._engine.begin() as conn:
            if self._postgres:
                for lock in sorted({k for p in batch for k in p.locks}):
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": lock})
            for members in groups.values():
                operation = batch[members[0]].operation
                try:
                    answers = operation(conn, [batch[i].request for i in members])
                except (OperationalError, InterfaceError):
                    raise  # the database is unreachable: running it again piecemeal would not help
                except Exception as exc:
                    raise _GroupFailed(members, exc) from exc
                for index, answer in zip(members, answers, strict=True):
                    results[index] = answer
        return results
