"""Socket Mode: the bot connects out to Slack, answers commands over the socket, and reports readiness."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.standins.slack import SlackWorkspace
from standins import SlackStandin, SociocsStandin
from tests.conftest import (
    BOT_TOKEN,
    CHANNEL_KEYS,
    RunningBot,
    bot_env,
    free_port,
    new_number,
    start_bot,
    wait_outcome,
)

APP_TOKEN = "xapp-1-test-app-token-42"


@pytest.fixture
def socket_slack() -> Iterator[SlackStandin]:
    standin = SlackStandin(bot_token=BOT_TOKEN, app_token=APP_TOKEN, workspace=SlackWorkspace())
    standin.start_in_thread()
    yield standin
    standin.stop_thread()


def envelope(number: str, text: str, envelope_id: str) -> dict[str, object]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "x",
            "team_id": "T0STANDIN",
            "channel_id": "C0GENERAL",
            "user_id": "U0SENDER",
            "command": "/sms",
            "text": f"{number} {text}" if number else text,
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "t.1",
            "api_app_id": "A0STANDIN",
        },
    }


def test_socket_mode_sends_and_acks_over_the_socket(
    socket_slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
):
    env = bot_env(
        socket_slack,
        sociocs,
        SLACK_MODE=None,
        SLACK_SIGNING_SECRET=None,
        SLACK_APP_TOKEN=APP_TOKEN,
        SOCIOCS_WEBHOOK_SECRET="socket-webhook-secret",
    )
    running: RunningBot = start_bot(env, socket_slack, tmp_path)
    try:
        socket_slack.wait_for(lambda calls: [c for c in calls if c.method == "socket_connect"])
        assert httpx.get(f"{running.url}/readyz").json()["detail"] == "socket mode"
        # HTTP mode's endpoint is not served in socket mode.
        assert httpx.post(f"{running.url}/slack/events", content="x").status_code in (404, 405)

        number = new_number()
        socket_slack.push(envelope(number, "over the socket", "env-1"))
        ack = socket_slack.wait_for(
            lambda calls: [c for c in calls if c.method == "socket_ack" and c.args.get("envelope_id") == "env-1"]
        )
        assert ack[0].args.get("payload") in (None, {})
        wait_outcome(socket_slack, number)
        assert [c.body for c in sociocs.messages() if c.body.get("to") == number] == [
            {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": number, "text": "over the socket"}
        ]

        # Sociocs's webhooks still come over HTTP, to the same listener as the health checks.
        from bot.sociocs.webhooks import sign as sociocs_sign

        body = b'{"event": "status_update", "message_id": "SMSOCKET", "event_data": {"status": "sent"}}'
        hook = httpx.post(
            f"{running.url}/sociocs/webhook",
            content=body,
            headers={"X-Sociocs-Signature": sociocs_sign("socket-webhook-secret", body)},
        )
        assert hook.status_code == 200 and hook.json() == {"status": "success", "duplicate": False}

        socket_slack.push(envelope("", "help", "env-2"))
        helped = socket_slack.wait_for(
            lambda calls: [c for c in calls if c.method == "socket_ack" and c.args.get("envelope_id") == "env-2"]
        )
        assert "RECIPIENTS" in helped[0].args["payload"]["text"]
    finally:
        assert running.stop() == 0


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1-revoked"}, "SLACK_APP_TOKEN was refused by Slack (invalid_auth)"),
        (
            {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": "xoxb-revoked"},
            "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)",
        ),
    ],
)
def test_a_token_slack_refuses_stops_the_bot_with_one_line(
    socket_slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path, overrides: dict[str, str], line: str
):
    env = bot_env(socket_slack, sociocs, SLACK_MODE="socket", PORT=str(free_port()), **overrides)
    result = subprocess.run(
        [sys.executable, "-m", "bot"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"sociocs-bot: configuration error: {line}"
    assert "revoked" not in result.stderr
