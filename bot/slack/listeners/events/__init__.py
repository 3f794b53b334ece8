"""Events: `app_mention`, a reply to a customer from a bridged thread."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.events.app_mention import mentioned


def register(app: AsyncApp) -> None:
    app.event("app_mention")(mentioned)
