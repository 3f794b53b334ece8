"""The Sociocs stand-in's contacts endpoints keep Sociocs's documented rules (the bot relies on them)."""

from __future__ import annotations

import httpx

from standins import SociocsStandin
from tests.conftest import API_KEY, new_number


def _get(sociocs: SociocsStandin, path: str, **params: object) -> httpx.Response:
    return httpx.get(sociocs.url + path, params=params, headers={"apikey": API_KEY}, timeout=5)


def test_search_needs_two_characters_and_a_limit_up_to_20(sociocs: SociocsStandin) -> None:
    sociocs.add_contact(new_number(), "Zebediah Standin")
    assert _get(sociocs, "/contacts/search", query="z").status_code == 400
    assert _get(sociocs, "/contacts/search", query="zebediah", limit=21).status_code == 400
    found = _get(sociocs, "/contacts/search", query="ZEBEDIAH", limit=20)
    assert found.status_code == 200
    assert [c["name"] for c in found.json()["data"]] == ["Zebediah Standin"]


def test_search_refuses_a_wrong_key(sociocs: SociocsStandin) -> None:
    response = httpx.get(sociocs.url + "/contacts/search", params={"query": "ab"}, headers={"apikey": "x:y"})
    assert response.status_code == 401


def test_paths_take_digits_with_or_without_plus(sociocs: SociocsStandin) -> None:
    number = new_number()
    sociocs.add_contact(number, "Plus Minus", blocked=True)
    for shown in (number.lstrip("+"), "%2B" + number.lstrip("+")):
        assert _get(sociocs, f"/contacts/{shown}").json()["data"]["name"] == "Plus Minus"
        assert _get(sociocs, f"/contacts/isblocked/{shown}").json()["data"] == {"is_blocked": True}
    assert _get(sociocs, "/contacts/isblocked/not-a-number").status_code == 400
    assert _get(sociocs, "/contacts/16170000").status_code == 404


def test_block_and_unblock(sociocs: SociocsStandin) -> None:
    number = new_number().lstrip("+")
    post = httpx.post(sociocs.url + f"/contacts/block/{number}", headers={"apikey": API_KEY})
    assert post.status_code == 200
    assert _get(sociocs, f"/contacts/isblocked/{number}").json()["data"]["is_blocked"] is True
    httpx.post(sociocs.url + f"/contacts/unblock/{number}", headers={"apikey": API_KEY})
    assert _get(sociocs, f"/contacts/isblocked/{number}").json()["data"]["is_blocked"] is False


def test_team_members(sociocs: SociocsStandin) -> None:
    sociocs.add_team_member(id="tm-standin", email="Standin@Example.com", name="Stan")
    members = _get(sociocs, "/team-members").json()["data"]
    assert {"id": "tm-standin", "email": "Standin@Example.com", "name": "Stan"} in members


def test_the_slack_standin_knows_what_an_options_answer_may_hold() -> None:
    from bot.standins.slack import options_problem

    def option(text: str, value: str = "v") -> dict[str, object]:
        return {"text": {"type": "plain_text", "text": text}, "value": value}

    assert options_problem({"options": [option("Jane Doe (+1617***1212)", "+16175551212|Jane Doe")]}) is None
    assert options_problem({"options": []}) is None
    assert options_problem({"options": [option("x" * 76)]}) is not None
    assert options_problem({"options": [option("x", "v" * 151)]}) is not None
    assert options_problem({"options": [option("x")] * 101}) is not None
    assert options_problem({"options": [{"text": {"type": "mrkdwn", "text": "x"}, "value": "v"}]}) is not None
    assert options_problem({}) is not None


def test_search_by_number_matches_digits_and_a_name_query_does_not(sociocs: SociocsStandin) -> None:
    number = new_number()
    sociocs.add_contact(number, "Numbered Person Zq")
    found = _get(sociocs, "/contacts/search", query=number[-7:]).json()["data"]
    assert "Numbered Person Zq" in [c["name"] for c in found]
    assert _get(sociocs, "/contacts/search", query=f"Zzz {number[-4:]}").json()["data"] == []  # names only


def test_lookups_can_take_their_own_time() -> None:
    """The benchmark's what-if (`bench/run.py --lookup-latency`): contact lookups answered after a delay
    of their own; by default they take as long as the rest."""
    assert SociocsStandin(latency=0.4).lookup_latency == 0.4
    assert SociocsStandin(latency=0.4, lookup_latency=0.0).lookup_latency == 0.0
