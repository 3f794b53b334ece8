"""Events: `app_mention`, a reply to a customer from a bridged thread; `app_home_opened`, the Home tab."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.events.app_home import home_opened
from bot.slack.listeners.events.app_mention import mentioned


def register(app: AsyncApp) -> None:
    app.event("app_mention")(mentioned)
    app.event("app_home_opened")(home_opened)
