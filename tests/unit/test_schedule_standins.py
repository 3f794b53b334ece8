"""The stand-ins' side of send later: Sociocs's `schedule`, its list and its cancel; Slack's `tz`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from standins import SlackStandin, SociocsStandin
from tests.conftest import API_KEY, BOT_TOKEN, CHANNEL_KEYS, new_number

pytestmark = pytest.mark.anyio


def body(to: str, schedule: str | None = None) -> dict[str, Any]:
    payload = {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": to, "text": "later"}
    if schedule is not None:
        payload["schedule"] = schedule
    return payload


def later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).astimezone().isoformat(timespec="seconds")


async def test_schedule_must_be_iso_8601_with_an_offset(sociocs: SociocsStandin):
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": API_KEY}) as http:
        for bad in ("2030-12-01T09:00:00", "tomorrow 9am", "2030-13-01T09:00:00-05:00", 1700000000):
            answer = await http.post("/message", json=body(new_number(), bad))  # type: ignore[arg-type]
            assert answer.status_code == 400 and "schedule" in answer.json()["errors"][0]["msg"]
        good = await http.post("/message", json=body(new_number(), later(2)))
        assert good.status_code == 200


async def test_scheduled_messages_are_listed_latest_first_and_a_past_time_is_sent_at_once(sociocs: SociocsStandin):
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": API_KEY}) as http:
        ids = []
        for hours in (1, 3, 2, -1):
            answer = await http.post("/message", json=body(new_number(), later(hours)))
            ids.append(answer.json()["data"]["message_id"])
        listed = (await http.get("/messages/scheduled")).json()["data"]
        assert [m["message_id"] for m in listed] == [ids[1], ids[2], ids[0]]  # the past one went at once
        assert (await http.get("/messages/scheduled", headers={"apikey": "wrong"})).status_code == 401


async def test_the_list_holds_at_most_100(sociocs: SociocsStandin):
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": API_KEY}) as http:
        for i in range(101):
            await http.post("/message", json=body(new_number(), later(1 + i / 100)))
        assert len((await http.get("/messages/scheduled")).json()["data"]) == 100


async def test_cancelling_works_until_the_time_has_passed(sociocs: SociocsStandin):
    async with httpx.AsyncClient(base_url=sociocs.url, headers={"apikey": API_KEY}) as http:
        first = (await http.post("/message", json=body(new_number(), later(1)))).json()["data"]["message_id"]
        second = (await http.post("/message", json=body(new_number(), later(1)))).json()["data"]["message_id"]
        assert (await http.delete(f"/messages/scheduled/{first}")).status_code == 200
        assert (await http.delete(f"/messages/scheduled/{first}")).status_code == 404
        sociocs.advance(2 * 3600)
        refused = await http.delete(f"/messages/scheduled/{second}")
        assert refused.status_code == 400 and "being sent" in refused.json()["errors"][0]["msg"]
        assert (await http.get("/messages/scheduled")).json()["data"] == []


async def test_slack_users_info_gives_each_users_time_zone(slack: SlackStandin):
    slack.workspace.zones["U0SENDER"] = "Asia/Kolkata"
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            slack.api_url + "users.info", data={"user": "U0SENDER"}, headers={"authorization": f"Bearer {BOT_TOKEN}"}
        )
    user = answer.json()["user"]
    assert user["tz"] == "Asia/Kolkata" and user["tz_offset"] == 19800 and user["tz_label"] == "IST"
