"""SQLite's write-ahead log is checkpointed by a thread of its own, never in a commit (ledger/_checkpoint.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bot.ledger import Ledger
from bot.ledger._checkpoint import Checkpointer
from tests.test_ledger import entry, run


def test_the_ledger_writers_commits_never_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    async def body() -> int:
        ledger = await Ledger.open(f"sqlite:///{path}")
        try:
            await ledger.reserve([entry(f"+1617555{i:04d}") for i in range(20)], user_id="U1", limit_per_minute=None)

            def setting() -> int:
                with ledger._sync_reads._engine.connect() as conn:
                    return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

            return await asyncio.get_running_loop().run_in_executor(None, setting)
        finally:
            await ledger.close()

    assert run(body) == 0


class Counting(Checkpointer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.made = 0
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def checkpoint(self) -> bool:
        self.made += 1
        return super().checkpoint()


def test_the_checkpointer_copies_the_log_back_after_commits_and_rests_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x TEXT)")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.stat().st_size  # the file holds the table, none of the rows: they are in the log
    commits = [0]
    checkpointer = Counting(str(path), lambda: commits[0], every=0.02)
    try:
        time.sleep(0.2)
        idle = checkpointer.made  # nothing committed yet: nothing to do
        for i in range(200):
            writer.execute("INSERT INTO t VALUES (?)", (str(i) * 50,))
            commits[0] += 1
        deadline = time.monotonic() + 5
        while path.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.02)
        after = path.stat().st_size
    finally:
        checkpointer.close()
        writer.close()
    assert idle == 0
    assert after > before  # the rows reached the database file without any commit checkpointing
