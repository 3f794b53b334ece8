"""What the bot says about Sociocs contacts: lookups, the choice among matches, blocked numbers, opt-outs.

Names come from Sociocs or from what a person typed, so every one is shown escaped and defused; numbers
in refusals are masked (a refusal is an error text, and error texts never carry full numbers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.contact_choices import CHOICE_MINUTES
from bot.domain.phone import mask
from bot.slack.text import defuse, shown

CONTACT_CHOICE_PREFIX = "contact_choice_"
CONTACT_CANCEL = "contact_choice_cancel"
BLOCK_ACTION = "block_number"
BLOCKED_REASON = "blocked in Sociocs: the customer opted out"
UNAVAILABLE = "contact search is unavailable"


def quoted(typed: str) -> str:
    return f"“{shown(typed)}”"


def looking_up(names: Sequence[str]) -> str:
    return ":mag: Looking up " + ", ".join(quoted(n) for n in names) + " in Sociocs contacts…"


def no_match(typed: str) -> str:
    return (
        f":warning: No Sociocs contact matches {quoted(typed)}, so nothing was sent to it. "
        "Check the spelling, or use the number."
    )


def lost_names(typed: Sequence[str], channel_id: str) -> str:
    """The names a restart interrupted, to their author: nothing was sent to them."""
    names = ", ".join(quoted(n) for n in typed)
    return (
        f":warning: The bot restarted while looking up {names} (your `/sms` in <#{channel_id}>), "
        "so the message was not sent to them. Send the command again."
    )


def unavailable(typed: str) -> str:
    return (
        f":warning: Not sent to {quoted(typed)}: the {UNAVAILABLE} right now. Try again shortly, or use the "
        "number (numbers in the same command still go)."
    )


def blocked_line(number: str) -> str:
    return f":no_entry: Not sent to {mask(number)}: {BLOCKED_REASON}."


def match_label(number: str, name: str | None) -> str:
    """`Jane Doe (+1617***1212)`, plain text for a button (at most 75 characters)."""
    label = f"{defuse(name or 'No name')} ({mask(number)})"
    return label if len(label) <= 75 else label[:74] + "…"


def choice_blocks(
    choice_id: str, typed: str, matches: Sequence[tuple[str, str | None]], text: str, note: str | None = None
) -> list[dict[str, Any]]:
    """Which contact is meant: one button per match (name and masked number) and Cancel.

    The buttons carry the held choice's id and the match's place in it, never the number or the text.
    """
    intro = (
        f":busts_in_silhouette: Several Sociocs contacts match {quoted(typed)}: who should get it? "
        f"Nothing is sent until you choose (within {CHOICE_MINUTES} minutes)."
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": intro, "verbatim": True}}]
    if text:
        quoted_text = "\n".join(f"> {line}" for line in shown(text).split("\n"))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quoted_text[:2900], "verbatim": True}})
    if note:  # what else is held: a template, a schedule (already in Slack's markup)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2900]}]})
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": f"{CONTACT_CHOICE_PREFIX}{i}",
            "text": {"type": "plain_text", "text": match_label(number, name)},
            "value": json.dumps({"c": choice_id, "i": i}),
        }
        for i, (number, name) in enumerate(matches)
    ]
    buttons.append(
        {
            "type": "button",
            "action_id": CONTACT_CANCEL,
            "text": {"type": "plain_text", "text": "Cancel"},
            "value": json.dumps({"c": choice_id}),
        }
    )
    blocks.append({"type": "actions", "block_id": "contact_choice", "elements": buttons})
    return blocks


def opt_out_blocks(number: str, provider: str) -> list[dict[str, Any]]:
    """Under a customer's opt-out: the mark, and a Block button (admins only may press it)."""
    return [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": ":no_entry_sign: *Opt-out*: the customer asked to stop. An admin can block the "
                    "number in Sociocs so it gets no more messages.",
                }
            ],
        },
        {
            "type": "actions",
            "block_id": "opt_out",
            "elements": [
                {
                    "type": "button",
                    "action_id": BLOCK_ACTION,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Block"},
                    "value": json.dumps({"n": number, "p": provider}),
                }
            ],
        },
    ]


def block_done(who: str, number: str, blocked: bool) -> str:
    """The line posted in the conversation when an admin blocks or unblocks a number."""
    verb = "blocked" if blocked else "unblocked"
    after = " It gets no bulk or automated messages, and the bot refuses to text it." if blocked else ""
    return f":no_entry_sign: <@{who}> {verb} *{number}* in Sociocs.{after}"


NOT_ADMIN = ":no_entry: Only admins (ADMIN_USER_IDS) may block or unblock numbers."
