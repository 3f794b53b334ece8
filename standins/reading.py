"""Reading what a bot did in the Slack stand-in's record, shared by the tests and the benchmarks."""

from __future__ import annotations

from typing import Any

from bot.standins import SlackCall


def posts(calls: list[SlackCall]) -> list[SlackCall]:
    """The messages posted, each as it reads now: text and blocks after its latest chat.update."""
    latest: dict[tuple[object, object], dict[str, Any]] = {}
    for c in calls:
        if c.method == "chat.update":
            latest[(c.args.get("channel"), c.args.get("ts"))] = c.args
    shown = []
    for c in calls:
        if c.method != "chat.postMessage":
            continue
        edit = latest.get((c.args.get("channel"), c.response.get("ts")))
        if edit is not None:
            args = {**c.args, "text": edit.get("text"), "blocks": edit.get("blocks")}
            c = SlackCall(c.method, args, c.token, c.path, c.response)
        shown.append(c)
    return shown
