"""Options requests: the compose form's To field, a typeahead over Sociocs contacts."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.options.to import to_options


def register(app: AsyncApp) -> None:
    app.options({"action_id": "to", "block_id": "to"})(to_options)
