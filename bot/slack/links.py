"""Links to Slack messages, built from the workspace's URL (auth.test's `url`, asked once).

Slack's permalinks have the form `https://WORKSPACE.slack.com/archives/CHANNEL/pTS` (the ts without its
dot; a reply adds `?thread_ts=…&cid=…`). Building them costs one auth.test per process instead of a
chat.getPermalink call per link, which matters for an inbox of fifty conversations.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def message_link(base: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    link = f"{base.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


class Links:
    """The workspace URL, learnt once from auth.test (`client` is the bot's Web API client)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._base: str | None = None

    async def base(self) -> str:
        if self._base is None:
            try:
                answer = await self._client.auth_test()
                self._base = str(answer.get("url") or "https://slack.com/")
            except Exception as exc:  # a link to slack.com still opens the right app; try again next time
                log.warning("could not learn the workspace URL for links (%s)", type(exc).__name__)
                return "https://slack.com/"
        return self._base
