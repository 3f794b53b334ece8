"""View submissions: the compose modal."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.views.compose import compose_submitted
from bot.slack.views import CALLBACK_ID


def register(app: AsyncApp) -> None:
    app.view(CALLBACK_ID)(compose_submitted)
