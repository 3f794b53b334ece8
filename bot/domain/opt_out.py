"""Opt-outs: a customer's message whose whole text is STOP or kin.

Such a message asks us to stop texting, so it is not one to answer: the Slack layer marks it (with a
Block button for admins), and a conversation whose customer opted out waits for no reply.
"""

from __future__ import annotations

OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})


def is_opt_out(text: str | None) -> bool:
    """The whole message is an opt-out keyword (any case, surrounding spaces and a final period ignored)."""
    return (text or "").strip().rstrip(".!").strip().lower() in OPT_OUT_WORDS
