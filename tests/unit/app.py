"""The real Bolt app, built by `build_bot` and fed requests in this process (`AsyncApp.async_dispatch`).

Console mode (`build_bot(settings, console=True)`) turns request signature checks off, as for
`sociocs-bot console`: signatures, serving and shutdown are the end-to-end tests' business. Everything
else is the deployed code: the listeners, the middleware (idempotency included), the send service,
the paced Slack client talking to the Slack stand-in and the Sociocs client to the Sociocs stand-in.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.slack.app import Bot, build_bot
from standins import SlackCall, SlackStandin, SociocsStandin
from tests.conftest import (
    API_KEY,
    BOT_TOKEN,
    CHANNEL_KEYS,
    SIGNING_SECRET,
    made_unique,
    new_channel,
    trigger_id,
    unique_ts,
)

_ledgers = itertools.count(1)
_responses = itertools.count(1)


def settings_for(slack: SlackStandin, sociocs: SociocsStandin, workdir: Path, **env: str) -> Settings:
    """The settings `tests/conftest.py:bot_env` gives a bot process, with overrides named as variables."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "sociocs_api_key": API_KEY,
        "sociocs_base_url": sociocs.url,
        "sociocs_channel_key_twlo": CHANNEL_KEYS["twlo"][0],
        "sociocs_channel_key_twlowa": CHANNEL_KEYS["twlowa"][0],
        "sociocs_timeout_seconds": 3,
        "database_url": f"sqlite:///{workdir}/ledger-{next(_ledgers)}.db",
    }
    values.update({key.lower(): value for key, value in env.items()})
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class AppUnderTest:
    """One bot built in this event loop, with helpers that post what Slack posts."""

    def __init__(self, bot: Bot, slack: SlackStandin, sociocs: SociocsStandin) -> None:
        self.bot = bot
        self.slack = slack
        self.sociocs = sociocs

    @classmethod
    async def build(cls, slack: SlackStandin, sociocs: SociocsStandin, workdir: Path, **env: str) -> AppUnderTest:
        return cls(await build_bot(settings_for(slack, sociocs, workdir, **env), console=True), slack, sociocs)

    async def aclose(self) -> None:
        await self.bot.background.wait_idle()
        await self.bot.aclose()

    async def dispatch(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> BoltResponse:
        request = AsyncBoltRequest(body=body, headers={"content-type": [content_type], **(headers or {})})
        return await self.bot.app.async_dispatch(request)

    async def command(
        self, text: str, *, channel: str | None = None, user: str = "U0SENDER", response_name: str | None = None
    ) -> BoltResponse:
        """`/sms text`, by default in a channel and with a response_url of its own."""
        form = {
            "token": "deprecated",
            "team_id": "T0STANDIN",
            "channel_id": channel or new_channel(),
            "channel_name": "somewhere",
            "user_id": user,
            "user_name": "jane.sender",
            "command": "/sms",
            "text": text,
            "response_url": self.slack.response_url(response_name or f"unit-{next(_responses)}"),
            "trigger_id": trigger_id(),
            "api_app_id": "A0STANDIN",
        }
        return await self.dispatch(urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> BoltResponse:
        """An interaction payload, made unique the way Slack makes each (see conftest `interaction`)."""
        body = urlencode({"payload": json.dumps(made_unique(payload))})
        return await self.dispatch(body, "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any], *, event_id: str | None = None) -> BoltResponse:
        body = {
            "token": "deprecated",
            "team_id": "T0STANDIN",
            "api_app_id": "A0STANDIN",
            "type": "event_callback",
            "event_id": event_id or f"Ev{unique_ts().replace('.', '')}",
            "event_time": 1,
            "authorizations": [{"team_id": "T0STANDIN", "user_id": "U0BOT", "is_bot": True}],
            "event": event,
        }
        return await self.dispatch(json.dumps(body), "application/json")

    async def settled(self) -> None:
        """Wait until the work handed to the background after the acknowledgements is done."""
        await self.bot.background.wait_idle()

    # Reading what it did --------------------------------------------------------------------------------

    def posts(self, channel: str) -> list[SlackCall]:
        return [c for c in self.slack.calls_to("chat.postMessage") if c.args.get("channel") == channel]

    def private(self, name: str) -> list[SlackCall]:
        return [c for c in self.slack.calls if c.method == "response_url" and c.path == name]

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        return [c.body for c in self.sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number]

    def current(self, call: SlackCall) -> dict[str, Any]:
        """A posted message as it reads now, after its edits."""
        shown = self.slack.current(str(call.args["channel"]), str(call.response["ts"]))
        assert shown is not None
        return shown


def acked(response: BoltResponse) -> dict[str, Any]:
    """The acknowledgement's JSON body ({} for a silent one), after checking it is a 200."""
    assert response.status == 200, response.body
    return json.loads(response.body) if response.body else {}
