"""The fast layer: the services, the Sociocs client, the guardrails, the reporters and the listeners,
each driven in this process (no bot process, no signing). Async tests run on asyncio through anyio's
pytest plugin; the stand-ins serve from the test's own event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.draft import Draft
from bot.domain.outcome import Outcome
from bot.domain.payload import MessagePayload
from bot.domain.phone import PhoneNumber
from bot.ledger import Ledger, Report
from standins import SlackStandin, SociocsStandin
from tests.conftest import API_KEY, BOT_TOKEN, CHANNEL_KEYS, slack_workspace


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    opened = await Ledger.open(f"sqlite:///{tmp_path}/ledger.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandin]:
    """A Slack stand-in of this test's own, in its event loop, with Slack's limits on."""
    standin = SlackStandin(bot_token=BOT_TOKEN, workspace=slack_workspace())
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest.fixture
async def sociocs() -> AsyncIterator[SociocsStandin]:
    standin = SociocsStandin(api_key=API_KEY, channel_keys={k: list(v) for k, v in CHANNEL_KEYS.items()})
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


class ScriptedSender:
    """A `Sender` answering with the given outcomes in order (then `sent`), recording each payload."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.payloads: list[MessagePayload] = []

    async def send(self, payload: MessagePayload) -> Outcome:
        self.payloads.append(payload)
        if self.outcomes:
            return self.outcomes.pop(0)
        return Outcome.sent(f"SM{len(self.payloads):04d}")


class RecordingReporter:
    """A `Reporter` that writes down what it is told."""

    def __init__(self, report: Report | None = None, *, fail: bool = False) -> None:
        self.events: list[tuple[str, Any]] = []
        self._report = report
        self._fail = fail

    def location(self) -> Report | None:
        return self._report

    async def started(self, draft: Draft) -> None:
        self.events.append(("started", draft))
        if self._fail:
            raise RuntimeError("slack is down")

    async def finished(
        self, recipient: PhoneNumber, payload: MessagePayload, outcome: Outcome, send_id: str | None
    ) -> None:
        self.events.append(("finished", (recipient.e164, outcome, send_id)))
        if self._fail:
            raise RuntimeError("slack is down")

    async def done(self) -> None:
        self.events.append(("done", None))

    def outcomes(self) -> dict[str, Outcome]:
        """Each recipient's reported outcome, by number."""
        return {v[0]: v[1] for k, v in self.events if k == "finished"}


@pytest.fixture
async def make_app(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path) -> AsyncIterator[Any]:
    """`await make_app(ALLOWED_USER_IDS="U1")`: the real Bolt app built in this loop; closed after the test."""
    from tests.unit.app import AppUnderTest

    built: list[AppUnderTest] = []

    async def make(**env: str) -> AppUnderTest:
        app = await AppUnderTest.build(slack, sociocs, tmp_path, **env)
        built.append(app)
        return app

    try:
        yield make
    finally:
        for app in built:
            await app.aclose()
