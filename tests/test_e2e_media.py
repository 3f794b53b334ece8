"""Photos and files from Slack (#16), end to end: a running bot, signed requests (or the socket), the
Slack stand-in serving files behind bearer auth, and the links fetched from the bot's own listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.standins.slack import SlackWorkspace
from standins import SlackStandin, SociocsStandin
from tests.conftest import BOT_TOKEN, RunningBot, bot_env, new_channel, new_number, start_bot, trigger_id, unique_ts
from tests.test_e2e_socket_mode import APP_TOKEN
from tests.unit.test_media import JPEG, PNG, message_shortcut, submission

PUBLIC_URL = "https://sms-bot.example.com"


def sent_to(sociocs: SociocsStandin, number: str) -> dict[str, Any]:
    (call,) = sociocs.wait_for(
        lambda calls: [c for c in calls if isinstance(c.body, dict) and c.body.get("to") == number]
    )
    body: dict[str, Any] = call.body
    return body


def opened_view(slack: SlackStandin, trigger: str) -> dict[str, Any]:
    (call,) = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "views.open" and c.args.get("trigger_id") == trigger]
    )
    view = call.args["view"]
    return view if isinstance(view, dict) else json.loads(view)


def served(base_url: str, link: str) -> httpx.Response:
    """A media link fetched from the bot itself, as Sociocs fetches it through PUBLIC_URL."""
    assert link.startswith(f"{PUBLIC_URL}/media/")
    return httpx.get(base_url + urlsplit(link).path, timeout=10)


def test_a_message_with_two_images_goes_out_as_links_to_the_same_bytes(
    make_bot: Any, slack: SlackStandin, sociocs: SociocsStandin
):
    bot: RunningBot = make_bot(PUBLIC_URL=PUBLIC_URL)
    files = [slack.add_file("a.jpg", JPEG, "image/jpeg"), slack.add_file("b.png", PNG, "image/png")]
    shortcut = message_shortcut(files, new_channel(), text="Two photos")
    assert bot.interaction(shortcut).status_code == 200
    view = opened_view(slack, shortcut["trigger_id"])
    number = new_number()
    answer = bot.interaction(submission(view, to=number, text="Two photos"))
    assert answer.status_code == 200 and answer.text == ""
    payload = sent_to(sociocs, number)
    assert payload["text"] == "Two photos" and len(payload["image_urls"]) == 2
    for link, original in zip(payload["image_urls"], [JPEG, PNG], strict=True):
        got = served(bot.url, link)
        assert got.status_code == 200 and got.content == original
    tampered = payload["image_urls"][0][:-2] + ("AA" if not payload["image_urls"][0].endswith("AA") else "BB")
    assert served(bot.url, tampered).status_code == 404
    assert BOT_TOKEN not in bot.logs()


def test_media_links_are_served_in_socket_mode(sociocs: SociocsStandin, tmp_path: Path):
    slack = SlackStandin(bot_token=BOT_TOKEN, app_token=APP_TOKEN, workspace=SlackWorkspace())
    slack.start_in_thread()
    env = bot_env(
        slack, sociocs, SLACK_MODE=None, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=APP_TOKEN, PUBLIC_URL=PUBLIC_URL
    )
    running = start_bot(env, slack, tmp_path)
    try:
        slack.wait_for(lambda calls: [c for c in calls if c.method == "socket_connect"])
        photo = slack.add_file("p.jpg", JPEG, "image/jpeg")
        trigger = trigger_id()
        command = {"trigger_id": trigger, "command": "/sms", "text": "", "channel_id": "C0GENERAL"}
        slack.push(_envelope("slash_commands", {**command, "user_id": "U0SENDER", "team_id": "T0STANDIN"}))
        view = opened_view(slack, trigger)
        number = new_number()
        slack.push(_envelope("interactive", submission(view, to=number, uploads=[photo])))
        payload = sent_to(sociocs, number)
        got = served(running.url, payload["image_url"])
        assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
        assert served(running.url, f"{PUBLIC_URL}/media/nothing.here").status_code == 404
    finally:
        assert running.stop() == 0
        slack.stop_thread()


def _envelope(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope_id": f"env-{unique_ts()}",
        "type": kind,
        "accepts_response_payload": True,
        "payload": {"api_app_id": "A0STANDIN", "response_url": "http://127.0.0.1:9/unused", **payload},
    }


def test_any_replica_on_one_postgresql_serves_the_links(
    make_bot: Any, slack: SlackStandin, sociocs: SociocsStandin, pg_url: str
):
    from tests.test_ledger import fresh_schema

    shared = {"DATABASE_URL": fresh_schema(pg_url), "PUBLIC_URL": PUBLIC_URL}
    a, b = make_bot(**shared), make_bot(**shared)
    photo = slack.add_file("shared.png", PNG, "image/png")
    shortcut = message_shortcut([photo], new_channel(), text="Across replicas")
    assert a.interaction(shortcut).status_code == 200
    number = new_number()
    assert a.interaction(submission(opened_view(slack, shortcut["trigger_id"]), to=number)).status_code == 200
    link = sent_to(sociocs, number)["image_url"]
    got = served(b.url, link)  # the other replica: the bytes are in the shared database
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
