"""What each send's Slack messages show, kept in the ledger so a restart shows the rest once.

The Slack layer renders and posts; this Slack-free service keeps the bookkeeping it needs for showing
each outcome and delivery status exactly once: which sends a summary's one outcome reply lists, what
that reply showed when Slack last accepted it, whether a status edit of the summary is due, and which
of these a gone process left unfinished (claimed once across replicas).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.ledger import Ledger, ReplyState, SendRecord


class ReplyBook:
    """The ledger's record of the outcome replies and summaries shown in Slack."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def open(self, channel_id: str, summary_ts: str, thread_ts: str, send_ids: Sequence[str]) -> None:
        """A send's summary is posted: its recipients' outcomes will be shown in one reply, in this order."""
        await self._ledger.open_reply(channel_id, summary_ts, thread_ts, send_ids)

    async def state(self, channel_id: str, summary_ts: str) -> ReplyState | None:
        """The summary's outcome reply as last shown; None when the send has no managed reply."""
        return await self._ledger.reply_state(channel_id, summary_ts)

    async def sends(self, state: ReplyState) -> list[SendRecord]:
        """The sends the reply lists, in its order, as the ledger has them now."""
        return await self.sends_in_order(state.send_ids)

    async def sends_in_order(self, send_ids: Sequence[str]) -> list[SendRecord]:
        """The sends, in the order given (missing ones left out)."""
        return await self._ledger.sends_in_order(send_ids)

    async def shown(
        self, channel_id: str, summary_ts: str, *, reply_ts: str, shown: dict[str, str], complete: bool
    ) -> None:
        """Slack accepted the reply showing `shown` (send id -> what was shown of it)."""
        await self._ledger.mark_shown(channel_id, summary_ts, reply_ts=reply_ts, shown=shown, complete=complete)

    async def reopen(self, channel_id: str, summary_ts: str) -> None:
        """A recipient's outcome changes again (Retry): the reply is unfinished until it is shown."""
        await self._ledger.reopen_reply(channel_id, summary_ts)

    async def sends_in_summary(self, channel_id: str, summary_ts: str) -> list[SendRecord]:
        """The sends a summary reports, for rendering their delivery statuses."""
        return await self._ledger.sends_in_summary(channel_id, summary_ts)

    async def statuses_due(self, channel_id: str, summary_ts: str, due: bool) -> None:
        """The summary's delivery statuses need an edit (True), or one rendered after that was accepted."""
        await self._ledger.statuses_due(channel_id, summary_ts, due)

    async def unshown_replies(self) -> list[ReplyState]:
        """Claim the unfinished replies of processes that are gone, for this process to show."""
        return await self._ledger.unshown_replies()

    async def unshown_statuses(self) -> list[tuple[str, str]]:
        """Claim the summaries whose status edit a gone process left due: (channel, summary ts)."""
        return await self._ledger.unshown_statuses()
