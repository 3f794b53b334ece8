"""Shortcuts: `send_as_sms` (on a message) and `compose_sms` (global) open the compose modal."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.shortcuts.compose import compose_sms, send_as_sms


def register(app: AsyncApp) -> None:
    app.shortcut("send_as_sms")(send_as_sms)
    app.shortcut("compose_sms")(compose_sms)
