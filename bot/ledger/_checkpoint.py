"""SQLite's write-ahead log is copied back into the database file by a thread of its own.

By default SQLite checkpoints inside the commit that grows the log past 1,000 pages: that commit then
copies the pages and syncs the file, and every acknowledgement waiting on the group commit
(`_batch.py`) waits with it. Measured on the bench machine, 3,000 small commits: 18 took over 5 ms
(up to 17 ms) with automatic checkpoints, none without. So the writer's connections turn them off
(`_schema.py`), and this thread checkpoints once a second after new commits, in PASSIVE mode, which
never waits for (or blocks) a writer or a reader.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

EVERY_SECONDS = 1.0


class Checkpointer:
    """Checkpoints the SQLite file at `path` every `every` seconds while `commits()` moves on."""

    def __init__(self, path: str, commits: Callable[[], int], every: float = EVERY_SECONDS) -> None:
        self._path = path
        self._commits = commits
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        done = self._commits()
        while not self._stop.wait(self._every):
            now = self._commits()
            if now != done and self.checkpoint():
                done = now

    def checkpoint(self) -> bool:
        """One PASSIVE checkpoint; False (logged) when it could not be made."""
        try:
            connection = sqlite3.connect(self._path, timeout=15, isolation_level=None)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                connection.close()
        except sqlite3.Error as exc:
            log.warning("could not checkpoint the ledger's write-ahead log (%s)", type(exc).__name__)
            return False
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.checkpoint()  # the log is left short for the next process
