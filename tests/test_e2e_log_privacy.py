"""A failing ledger statement must not put personal data or channel keys in the log (issue 10, item 6).

The database layer used to print a failed statement's parameters into the ERROR traceback: the full
number, the message text and the channel key. The bot runs as deployed; its ledger is broken under
it while it runs, then a send is made and the log is read.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.logs import REDACTED, SecretFilter
from standins import SlackStandin, SociocsStandin
from tests.conftest import CHANNEL_KEYS, RunningBot, new_number
from tests.test_ledger import fresh_schema


def wait_for_error(bot: RunningBot, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = bot.logs()
        if re.search(r"\bERROR\b", logs) and "Traceback" in logs:
            time.sleep(0.3)  # let the whole traceback be written
            return bot.logs()
        time.sleep(0.05)
    raise AssertionError(f"no ERROR line in the log:\n{bot.logs()}")


def assert_private(logs: str, number: str, text: str) -> None:
    assert number not in logs
    assert number[2:] not in logs  # the national digits, however formatted
    assert text not in logs and "launch code" not in logs
    for keys in CHANNEL_KEYS.values():
        for key in keys:
            assert key not in logs


def break_sqlite(path: Path) -> Callable[[], None]:
    def breaking() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("ALTER TABLE sends RENAME TO sends_gone")

    return breaking


def break_postgres(url: str) -> Callable[[], None]:
    def breaking() -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            # Every new row now fails, and PostgreSQL's own message repeats the whole row ("Failing row
            # contains (…)"): the parameters twice over.
            conn.execute("ALTER TABLE sends ADD CONSTRAINT t10_no_more CHECK (false) NOT VALID")

    return breaking


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_failing_ledger_statement_logs_no_number_text_or_channel_key(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path, request: pytest.FixtureRequest, backend: str
):
    if backend == "sqlite":
        path = tmp_path / f"ledger-{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{path}"
        breaking = break_sqlite(path)
    else:
        url = fresh_schema(str(request.getfixturevalue("pg_url")))
        breaking = break_postgres(url)
    bot = make_bot(DATABASE_URL=url)
    breaking()

    number = new_number()
    text = f"The launch code is {uuid.uuid4().hex}"
    assert bot.command(f"{number} {text}").status_code == 200
    logs = wait_for_error(bot)
    assert_private(logs, number, text)
    assert "ERROR" in logs


def test_channel_keys_are_secrets_scrubbed_from_logs() -> None:
    settings = load_settings(
        sociocs_channel_key_twlo="ck-twlo-secret-1", sociocs_channel_key_gswa="ck-gswa-secret-3", _env_file=None
    )
    assert {"ck-twlo-secret-1", "ck-gswa-secret-3"} <= set(settings.secrets())
    scrubber = SecretFilter(settings.secrets())
    assert scrubber.scrub("key ck-twlo-secret-1 and ck-gswa-secret-3") == f"key {REDACTED} and {REDACTED}"


def test_postgresql_row_details_are_scrubbed_even_without_secrets() -> None:
    error = (
        'new row for relation "sends" violates check constraint "x"\n'
        "DETAIL:  Failing row contains (abc, +16175551212, The launch code is 42).\n"
        "[SQL: INSERT INTO sends ...]"
    )
    cleaned = SecretFilter([]).scrub(error)
    assert "+16175551212" not in cleaned and "launch code" not in cleaned
    assert f"DETAIL:  {REDACTED}" in cleaned and "[SQL: INSERT INTO sends ...]" in cleaned
