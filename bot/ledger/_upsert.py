"""INSERT … ON CONFLICT for the ledger's database, without importing PostgreSQL's dialect for SQLite.

`sqlalchemy.dialects.postgresql` is some twenty modules (about 2 MB resident): a bot on SQLite never
needs it, a bot on PostgreSQL has it loaded by its engine anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert


def upsert_into(table: Table, *, postgres: bool) -> PostgresInsert | SQLiteInsert:
    """The dialect's INSERT into `table` (with `on_conflict_do_nothing`/`_update` and `excluded`)."""
    if postgres:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    return sqlite_insert(table)
