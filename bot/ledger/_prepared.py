"""The ledger's frequent statements, compiled once per dialect and run on the DB-API cursor.

Every send runs a dozen statements in the writer's and reader's threads. Through SQLAlchemy each one
paid for its cache key, parameter construction, bind processors, an execution context and a result
wrapper: most of those threads' CPU (profiled with bench/run.py --py-spy), far more than SQLite's own
work. Here a statement is compiled by SQLAlchemy once, for the engine's dialect, and then executed
with the cursor of the connection the thread already holds, its parameters converted by the very bind
processors SQLAlchemy would use (SQLite stores datetimes as SQLAlchemy's strings, so rows read back
the same either way) and its rows by SQLAlchemy's result processors.

What SQLAlchemy did for errors still happens: a driver error goes through the Connection's own error
handling, which wraps it (`OperationalError`, `IntegrityError`…), hides the parameters
(`hide_parameters`) and invalidates a connection the database dropped.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


def _remembering(processor: _Processor) -> _Processor:
    """A datetime column's processor, answering again at once for the very datetime it was last given.

    The rows of one transaction share one timestamp object, and SQLite's datetime processor formats a
    string each time: a tenth of the writer's CPU for a burst of reservations, profiled.
    By identity, not equality: equal aware datetimes in other zones format differently."""
    if processor is None:
        return None
    process = processor
    last: list[tuple[Any, Any]] = [(object(), None)]

    def remembered(value: Any) -> Any:
        seen, answer = last[0]  # one pair, swapped whole: safe across the writer and reader threads
        if value is seen:
            return answer
        answer = process(value)
        last[0] = (value, answer)
        return answer

    return remembered


class Prepared:
    """One statement compiled for one dialect: its SQL, how a row of named values becomes the driver's
    parameters, and (for a SELECT) how the driver's rows become rows with named fields."""

    __slots__ = ("_plan", "_positional", "_results", "_row", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect, *, column_keys: Sequence[str] | None = None) -> None:
        # for_executemany: no implicit RETURNING of an INSERT's new key (PostgreSQL), which nobody reads
        compiled = statement.compile(
            dialect=dialect,
            column_keys=list(column_keys) if column_keys else None,
            for_executemany=True,
        )
        assert isinstance(compiled, SQLCompiler), "a DML or SELECT statement"
        self.sql: str = compiled.string
        self._positional = bool(dialect.positional)
        names = list(compiled.positiontup or ()) if self._positional else list(compiled.bind_names.values())
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        # (the driver's name, the caller's key or None for a value bound in the statement, that value
        # already processed, the bind processor)
        plan: list[tuple[str, str | None, Any, _Processor]] = []
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError("expanding parameters are not supported: prepare one statement per arity")
            processor: _Processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if isinstance(bind.type, DateTime):
                processor = _remembering(processor)
            if bind.required:  # the caller's: `bindparam("x")`, or an INSERT's column
                plan.append((escaped.get(name, name), bind.key, None, processor))
            else:  # a value written in the statement
                value = bind.effective_value
                plan.append((escaped.get(name, name), None, processor(value) if processor else value, None))
        self._plan = tuple(plan)
        columns = getattr(compiled, "_result_columns", None) or []
        if columns:
            self._row: type[tuple[Any, ...]] | None = namedtuple("Row", [c[0] for c in columns], rename=True)  # type: ignore[misc]
            self._results: tuple[_Processor, ...] = tuple(
                c[3].dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
        else:
            self._row = None
            self._results = ()

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for one row of named values."""
        converted = [
            fixed if key is None else (values[key] if processor is None else processor(values[key]))
            for _, key, fixed, processor in self._plan
        ]
        if self._positional:
            return tuple(converted)
        return {name: value for (name, _, _, _), value in zip(self._plan, converted, strict=True)}

    def rows(self, fetched: Iterable[Sequence[Any]]) -> list[Any]:
        """The driver's rows as rows with the selected columns' names, values as SQLAlchemy gives them."""
        make = self._row
        assert make is not None, "not a SELECT"
        processors = self._results
        if not any(processors):
            return [make(*row) for row in fetched]
        return [
            make(*[value if p is None else p(value) for p, value in zip(processors, row, strict=True)])
            for row in fetched
        ]


def execute(conn: Connection, prepared: Prepared, values: Mapping[str, Any]) -> Any:
    """Run the statement for one row of values on the connection's cursor; the cursor (rowcount, rows)."""
    cursor = conn.connection.cursor()
    parameters = prepared.parameters(values)
    try:
        cursor.execute(prepared.sql, parameters)
    except Exception as exc:
        conn._handle_dbapi_exception(exc, prepared.sql, parameters, cursor, None)  # raises it, wrapped
    return cursor


def execute_many(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run the statement once for each row (one `executemany`)."""
    if not rows:
        return
    cursor = conn.connection.cursor()
    parameters: list[Any] = [prepared.parameters(row) for row in rows]
    try:
        cursor.executemany(prepared.sql, parameters)
    except Exception as exc:
        conn._handle_dbapi_exception(exc, prepared.sql, parameters, cursor, None)  # raises it, wrapped
    finally:
        cursor.close()


def fetch(conn: Connection, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
    """The rows a SELECT gives for one row of values."""
    cursor = execute(conn, prepared, values)
    try:
        fetched = cursor.fetchall()
    except Exception as exc:
        conn._handle_dbapi_exception(exc, prepared.sql, None, cursor, None)
    finally:
        cursor.close()
    return prepared.rows(fetched)


def rowcount(conn: Connection, prepared: Prepared, values: Mapping[str, Any]) -> int:
    """Run a write for one row of values; the rows it touched."""
    cursor = execute(conn, prepared, values)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def arity(count: int) -> int:
    """The number of `i0`… ids a prepared `IN (…)` statement takes for `count` ids: the next power of
    two, so a process compiles a handful of variants (1, 2, 4, … ids) instead of one per count; each
    compile costs 1–7 ms of CPU, and group commits and replies come in every size (#18)."""
    return 1 << max(0, count - 1).bit_length()


def in_values(ids: Sequence[str]) -> dict[str, str]:
    """`ids` as the values of the `arity(len(ids))` variant: the last id repeats to fill it, which an
    `IN (…)` reads as the same set."""
    last = len(ids) - 1
    return {f"i{n}": ids[min(n, last)] for n in range(arity(len(ids)))}
