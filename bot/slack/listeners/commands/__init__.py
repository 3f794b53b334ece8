"""Slash commands: `/sms`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.commands.sms import sms_command


def register(app: AsyncApp) -> None:
    app.command("/sms")(sms_command)
