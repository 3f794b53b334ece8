"""`GET /messages/unreplied`: the Sociocs stand-in answers it as documented (dates `YYYY-MM-DD`, the last
90 days by default), and the client reads it."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.sociocs import SociocsClient, SociocsError
from standins import SociocsStandin
from tests.conftest import API_KEY

pytestmark = pytest.mark.anyio

NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


def unreplied(number: str, text: str, age_days: float = 0) -> dict[str, object]:
    return {
        "message_id": f"IN{number[-6:]}{int(age_days)}",
        "provider": "twlo",
        "channel_key": "ck-twlo",
        "direction": "incoming",
        "from": number.lstrip("+"),
        "to": "16175550000",
        "name": "Jane",
        "text": text,
        "timestamp": NOW_MS - int(age_days * DAY_MS),
    }


async def test_the_standin_lists_the_last_90_days_by_default_and_refuses_bad_dates(sociocs: SociocsStandin):
    sociocs.unreplied.extend([unreplied("+16175550101", "recent"), unreplied("+16175550102", "old", age_days=120)])
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": API_KEY}) as http:
        default = (await http.get("/messages/unreplied")).json()
        assert [m["text"] for m in default["data"]] == ["recent"]
        wide = (await http.get("/messages/unreplied", params={"start_date": "2000-01-01"})).json()
        assert sorted(m["text"] for m in wide["data"]) == ["old", "recent"]
        for bad in ({"start_date": "yesterday"}, {"end_date": "2026-13-01"}, {"start_date": "2026-1-1"}):
            refused = await http.get("/messages/unreplied", params=bad)
            assert refused.status_code == 400 and refused.json()["status"] == "error"
        reversed_range = await http.get(
            "/messages/unreplied", params={"start_date": "2026-02-01", "end_date": "2026-01-01"}
        )
        assert reversed_range.status_code == 400
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": "wrong"}) as http:
        assert (await http.get("/messages/unreplied")).status_code == 401


async def test_the_client_reads_unreplied_messages_and_skips_unreadable_ones(sociocs: SociocsStandin):
    sociocs.unreplied.extend([unreplied("+16175550103", "hello"), {"text": "no sender", "timestamp": NOW_MS}])
    client = SociocsClient(api_key=API_KEY, base_url=sociocs.url, timeout=3)
    try:
        (found,) = await client.unreplied()
    finally:
        await client.aclose()
    assert found.number == "+16175550103" and found.text == "hello" and found.channel_key == "ck-twlo"


async def test_the_client_says_why_when_sociocs_refuses(sociocs: SociocsStandin):
    client = SociocsClient(api_key="user:wrong", base_url=sociocs.url, timeout=3)
    try:
        with pytest.raises(SociocsError, match="401"):
            await client.unreplied()
    finally:
        await client.aclose()
