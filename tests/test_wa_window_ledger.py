"""When each customer last wrote, per channel, on SQLite and PostgreSQL: the latest time wins, whatever
order the webhooks come in."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.ledger import Ledger
from tests.test_ledger import run, url  # noqa: F401  (`url`: the SQLite / PostgreSQL fixture)


def test_the_latest_message_per_channel_and_number_wins(url: str) -> None:  # noqa: F811
    async def scenario() -> None:
        ledger = await Ledger.open(url)
        try:
            at = datetime(2026, 12, 1, 9, 0)
            assert await ledger.last_written("ck-a", "+16175550001") is None
            await ledger.note_customer_write("ck-a", "+16175550001", at)
            await ledger.note_customer_write("ck-a", "+16175550001", at - timedelta(hours=2))  # a late, older webhook
            assert await ledger.last_written("ck-a", "+16175550001") == at
            await ledger.note_customer_write("ck-a", "+16175550001", at + timedelta(minutes=5))
            assert await ledger.last_written("ck-a", "+16175550001") == at + timedelta(minutes=5)
            assert await ledger.last_written("ck-b", "+16175550001") is None
            assert await ledger.last_written("ck-a", "+16175550002") is None
        finally:
            await ledger.close()

    run(scenario)
