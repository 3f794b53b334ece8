"""The bot as bench/slack_limits.py drives it: `python -m bot` (HTTP mode, as deployed) against the
in-process stand-ins, fed signed `/sms` commands and signed Sociocs webhooks.

The benchmark's own helpers, so that it does not depend on the test suite's fixtures (tests/conftest.py
may change with the tests); only the stand-ins (standins/) are shared.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.sociocs.webhooks import sign as sociocs_sign
from standins import SlackStandin, SociocsStandin

SIGNING_SECRET = "bench-slack-limits-signing-secret"
BOT_TOKEN = "xoxb-bench-slack-limits-token"
API_KEY = "bench-user:bench-password"
CHANNEL_KEYS = {"twlo": ["ck-twlo-bench-0001"], "twlowa": ["ck-twlowa-bench-0002"]}
WEBHOOK_SECRET = "bench-webhook-secret"
READY_TIMEOUT = 30.0

_requests = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slack_signature(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def status(message_id: str, value: str) -> dict[str, Any]:
    """A Sociocs `status_update` webhook body."""
    return {"message_id": message_id, "event": "status_update", "event_data": {"status": value}}


class BenchBot:
    """A running `python -m bot`, talked to like Slack and Sociocs do."""

    def __init__(self, slack: SlackStandin, sociocs: SociocsStandin, workdir: Path, **settings: str) -> None:
        self.slack = slack
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "SLACK_MODE": "http",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SOCIOCS_API_KEY": API_KEY,
            "SOCIOCS_BASE_URL": sociocs.url,
            "SOCIOCS_CHANNEL_KEY_TWLO": CHANNEL_KEYS["twlo"][0],
            "SOCIOCS_CHANNEL_KEY_TWLOWA": CHANNEL_KEYS["twlowa"][0],
            "SOCIOCS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SOCIOCS_TIMEOUT_SECONDS": "3",
            **settings,
        }
        self.log_path = workdir / f"bot-{port}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=workdir, stdout=log, stderr=log)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if self.http.get("/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the bot did not become ready:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    def command(self, text: str, *, channel: str) -> httpx.Response:
        """A signed `/sms`, with a trigger id and a `response_url` of its own, as Slack sends them."""
        n = next(_requests)
        body = urlencode(
            {
                "team_id": "T0STANDIN",
                "channel_id": channel,
                "channel_name": "somewhere",
                "user_id": "U0SENDER",
                "user_name": "jane.sender",
                "command": "/sms",
                "text": text,
                "response_url": self.slack.response_url(f"bench-{n}"),
                "trigger_id": f"13345224609.{time.time_ns()}{n}.bench",
                "api_app_id": "A0STANDIN",
            }
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", **slack_signature(body)}
        return self.http.post("/slack/events", content=body, headers=headers)

    def webhook(self, body: dict[str, Any]) -> httpx.Response:
        """A Sociocs webhook, signed with the shared secret."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Sociocs-Signature": sociocs_sign(WEBHOOK_SECRET, data)}
        return self.http.post("/sociocs/webhook", content=data, headers=headers)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()
        return int(self.process.returncode)
