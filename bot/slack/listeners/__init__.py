"""Slack listeners, grouped by kind as in Slack's bolt-python starter template, registered here.

Each listener is a plain function taking Bolt's arguments (`ack`, `command`, `body`, `action`,
`context`, `respond`, ...); the running Bot reaches it through Bolt's context (`bot_of(context)`),
put there by the global middleware `bot.slack.context.provide`.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import actions, commands, events, options, shortcuts, views


def register(app: AsyncApp) -> None:
    # Bolt tries listeners in this order until one matches: `/sms`, the busiest request by far, first.
    commands.register(app)
    actions.register(app)
    events.register(app)
    options.register(app)
    shortcuts.register(app)
    views.register(app)
