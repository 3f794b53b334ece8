"""Fixtures that run the bot the way Slack and Sociocs see it.

The bot runs as its own process (`python -m bot`, HTTP mode, exactly as deployed) on a free port of
127.0.0.1. It talks to a Slack Web API stand-in and a Sociocs stand-in that run in this process and
record every call; tests send it signed requests over real HTTP.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.standins.slack import SlackWorkspace
from standins import SlackCall, SlackStandin, SociocsStandin, posts

SIGNING_SECRET = "test-signing-secret-5d1c"
BOT_TOKEN = "xoxb-test-bot-token-77aa"
API_KEY = "test-user:test-password-93f1"
CHANNEL_KEYS = {"twlo": ["ck-twlo-test-0001"], "twlowa": ["ck-twlowa-test-0002"], "gswa": ["ck-gswa-test-0003"]}
SECRETS = (SIGNING_SECRET, BOT_TOKEN, API_KEY, "test-password-93f1")
WEBHOOK_SECRET = "webhook-secret-7c1e"
INBOX = "C0INBOX"

_numbers = itertools.count(2000)
_channels = itertools.count(1)
_responses = itertools.count(1)


def new_channel() -> str:
    """A public channel of the test's own: the stand-in paces chat.postMessage per channel as Slack
    does (a burst of 3, then one a second), so tests sharing one channel would wait on each other."""
    return f"C0T{next(_channels):06d}"


def new_number() -> str:
    """A fresh valid US number, so each test can pick out its own calls from the shared stand-ins."""
    return f"+1617555{next(_numbers):04d}"


_requests = itertools.count(1)


def trigger_id() -> str:
    """A fresh trigger id, as Slack gives every command and interaction its own (the bot ignores a
    request whose body it has already seen, so two genuine requests must differ)."""
    return f"13345224609.{time.time_ns()}{next(_requests)}.8088930838d88f008e0"


def unique_ts() -> str:
    return f"{time.time():.0f}.{next(_requests):06d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def made_unique(payload: dict[str, Any]) -> dict[str, Any]:
    """An interaction payload with what Slack makes unique in each: every action its `action_ts`, a
    view submission its `trigger_id`, a shortcut its `action_ts` (where the test set none)."""
    payload = dict(payload)
    if payload.get("type") == "block_actions":
        payload["actions"] = [{"action_ts": unique_ts(), **a} for a in payload.get("actions") or []]
    elif payload.get("type") in ("view_submission", "view_closed"):
        payload["trigger_id"] = trigger_id()
    else:
        payload.setdefault("action_ts", unique_ts())
    return payload


def slack_workspace() -> SlackWorkspace:
    """The little Slack world the tests' stand-ins answer about."""
    return SlackWorkspace(
        users={"U0SENDER": "jane.sender", "U0OTHER": "omar"},
        channels={"C0GENERAL": "general", "C0SUPPORT": "support"},
        closed_channels={"G0PRIVATE": "channel_not_found", "C0NOTIN": "not_in_channel"},
        usergroups={"S0SUPPORT": ["U0OTHER", "U0AGENT"]},
    )


class RunningBot:
    """A bot process under test, with helpers to talk to it like Slack does."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path, slack: SlackStandin) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.slack = slack
        self.http = httpx.Client(base_url=url, timeout=10)
        self._signalled: int | None = None

    def command(
        self,
        text: str,
        *,
        channel: str | None = None,
        user: str = "U0SENDER",
        response_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A signed `/sms`; by default in a channel of its own, with a `response_url` of its own (Slack
        allows 5 uses of one)."""
        channel = channel or new_channel()
        response_name = response_name or f"cmd-{next(_responses)}"
        body = urlencode(
            {
                "token": "deprecated",
                "team_id": "T0STANDIN",
                "channel_id": channel,
                "channel_name": "somewhere",
                "user_id": user,
                "user_name": "jane.sender",
                "command": "/sms",
                "text": text,
                "response_url": self.slack.response_url(response_name),
                "trigger_id": trigger_id(),
                "api_app_id": "A0STANDIN",
            }
        )
        signed = sign(body) if headers is None else headers
        return self.http.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **signed},
        )

    def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        """An interaction payload, given what Slack makes unique in each: every action its `action_ts`,
        a view submission its `trigger_id`, a shortcut its `action_ts` (where the test set none)."""
        import json

        body = urlencode({"payload": json.dumps(made_unique(payload))})
        return self.http.post(
            "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        )

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None) -> httpx.Response:
        """An Events API callback, as Slack posts it; `retry` re-posts it as Slack's n-th retry."""
        import json

        body = json.dumps(
            {
                "token": "deprecated",
                "team_id": "T0STANDIN",
                "api_app_id": "A0STANDIN",
                "type": "event_callback",
                "event_id": event_id or f"Ev{time.monotonic_ns()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": "T0STANDIN", "user_id": "U0BOT", "is_bot": True}],
                "event": event,
            }
        )
        headers = {"Content-Type": "application/json", **sign(body)}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.http.post("/slack/events", content=body, headers=headers)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        """Start stopping it without waiting (`stop` then waits, without signalling again)."""
        if self.process.poll() is None and self._signalled is None:
            self.process.send_signal(sig)
            self._signalled = sig

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            if self._signalled != sig:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()
        return int(self.process.returncode)


def coverage_env() -> dict[str, str]:
    """What `pytest --cov` sets for measuring subprocesses (coverage's `patch = ["subprocess"]`), so the
    bot processes the tests start with an environment of their own are measured too; empty otherwise."""
    return {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}


def bot_env(slack: SlackStandin, sociocs: SociocsStandin, **overrides: str | None) -> dict[str, str]:
    env = {
        **coverage_env(),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "SLACK_MODE": "http",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "HOST": "127.0.0.1",
        "SOCIOCS_API_KEY": API_KEY,
        "SOCIOCS_BASE_URL": sociocs.url,
        "SOCIOCS_CHANNEL_KEY_TWLO": CHANNEL_KEYS["twlo"][0],
        "SOCIOCS_CHANNEL_KEY_TWLOWA": CHANNEL_KEYS["twlowa"][0],
        "SOCIOCS_TIMEOUT_SECONDS": "3",
        "LOG_LEVEL": "INFO",
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def start_bot(env: dict[str, str], slack: SlackStandin, workdir: Path, ready_timeout: float = 20) -> RunningBot:
    port = free_port()
    env = {**env, "PORT": str(port)}
    log_path = workdir / f"bot-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=workdir, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return RunningBot(process, url, log_path, slack)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the bot did not become ready:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, dropped at the end.

    TEST_DATABASE_URL names a server and an existing database to connect to for creating it
    (default: the local server's `postgres` database). Skipped where no server answers, except in CI.
    """
    import uuid

    import psycopg

    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sociocs_bot_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server at TEST_DATABASE_URL ({exc.__class__.__name__})")
    from sqlalchemy.engine import make_url

    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def slack() -> Iterator[SlackStandin]:
    standin = SlackStandin(bot_token=BOT_TOKEN, workspace=slack_workspace())
    standin.start_in_thread()
    yield standin
    standin.stop_thread()


@pytest.fixture(autouse=True)
def garbage_collector_on() -> Iterator[None]:
    """Each test starts with the garbage collector on, as the bot's process runs: a test whose event
    loop ended in a burst of answers leaves it paused (bot.tasks: the timer resuming it never fires)."""
    gc.enable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def no_channel_pings(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which the bot posted something that could ping @here/@channel/@everyone.

    The Slack stand-in refuses such posts with `invalid_blocks`; the bot only logs a refused post,
    so without this check a regression could pass unnoticed.
    """
    if "slack" not in request.fixturenames:
        yield
        return
    standin: SlackStandin = request.getfixturevalue("slack")
    before = len(standin.calls)
    yield
    refused = [
        c
        for c in standin.calls[before:]
        if c.response.get("error") == "invalid_blocks"
        and "could mention" in str((c.response.get("response_metadata") or {}).get("messages"))
    ]
    assert not refused, f"the bot posted text that could mention everyone: {refused[0]}"


@pytest.fixture(scope="session")
def sociocs() -> Iterator[SociocsStandin]:
    standin = SociocsStandin(api_key=API_KEY, channel_keys={k: list(v) for k, v in CHANNEL_KEYS.items()})
    standin.start_in_thread()
    yield standin
    standin.stop_thread()


@pytest.fixture(scope="session")
def bot(slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The default bot: SMS and Twilio WhatsApp configured, no DEFAULT_REGION."""
    running = start_bot(bot_env(slack, sociocs), slack, tmp_path_factory.mktemp("bot"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def hooked(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    """A bot taking Sociocs webhooks, with an inbox channel: one for the webhook, thread-customer and
    idempotency tests (each test uses numbers and channels of its own)."""
    running = start_bot(
        bot_env(slack, sociocs, SOCIOCS_WEBHOOK_SECRET=WEBHOOK_SECRET, INBOX_CHANNEL_ID=INBOX),
        slack,
        tmp_path_factory.mktemp("hooked"),
    )
    yield running
    running.stop()


@pytest.fixture
def make_bot(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path) -> Iterator[Any]:
    """Start a bot with other settings: `make_bot(DEFAULT_REGION="US")`; stopped after the test."""
    started: list[RunningBot] = []

    def make(**overrides: str | None) -> RunningBot:
        running = start_bot(bot_env(slack, sociocs, **overrides), slack, tmp_path)
        started.append(running)
        return running

    yield make
    for running in started:  # they shut down side by side
        running.terminate()
    for running in started:
        running.stop()


# Reading what the bot did ----------------------------------------------------------------------------


def parents_for(calls: list[SlackCall], number: str) -> list[SlackCall]:
    return [c for c in posts(calls) if not c.args.get("thread_ts") and number in str(c.args.get("text"))]


def replies_for(calls: list[SlackCall], number: str) -> list[SlackCall]:
    return [c for c in posts(calls) if c.args.get("thread_ts") and number in str(c.args.get("text"))]


def wait_outcome(slack: SlackStandin, number: str, timeout: float = 15) -> tuple[SlackCall, SlackCall]:
    """The parent message and the outcome reply for `number`, once both are posted."""

    def found(calls: list[SlackCall]) -> tuple[SlackCall, SlackCall] | None:
        parents = parents_for(calls, number)
        replies = replies_for(calls, number)
        return (parents[0], replies[0]) if parents and replies else None

    return slack.wait_for(found, timeout)


def everything_about(slack: SlackStandin, sociocs: SociocsStandin, number: str) -> list[object]:
    """Every Slack post or Sociocs request that mentions `number` (for 'nothing happened' checks)."""
    slack_hits = [c for c in slack.calls if number in str(c.args)]
    sociocs_hits = [c for c in sociocs.calls if number in str(c.body)]
    return [*slack_hits, *sociocs_hits]


def settle(bot: RunningBot, slack: SlackStandin) -> None:
    """Send one valid command and wait for its outcome: anything queued before it has had its chance."""
    number = new_number()
    response = bot.command(f"{number} settle")
    assert response.status_code == 200
    wait_outcome(slack, number)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`, see pyproject.toml), the container tests share one worker:
    one image build, one podman at a time. Every other test goes wherever a worker is free: each worker
    has its own stand-ins, bots, PostgreSQL database and tmp dirs."""
    for item in items:
        if item.get_closest_marker("container"):
            item.add_marker(pytest.mark.xdist_group("container"))
