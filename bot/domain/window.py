"""WhatsApp's 24-hour customer service window, in words people can act on.

Inside the 24 hours after the customer's last message a business may send free text; outside it only
an approved template. The bot knows when a customer last wrote only from Sociocs's incoming-message
webhooks, so these rules apply only when webhooks are on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.providers import Provider
from bot.domain.templates import Template, names_of

WINDOW = timedelta(hours=24)
UNKNOWN_NOTE = "WhatsApp accepts free text only within 24 h of the customer's last message"


def is_open(last_wrote: datetime | None, now: datetime) -> bool:
    return last_wrote is not None and now - last_wrote < WINDOW


def ago(delta: timedelta) -> str:
    """`5 min`, `3 h`, `2 days`: rough, as people say it."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def closed_reason(
    number: str, provider: Provider, last_wrote: datetime | None, now: datetime, templates: Sequence[Template]
) -> str:
    """Why free text to `number` is refused: when they last wrote (or never), and what to send instead."""
    if last_wrote is None:
        wrote = f"{number} has never written to this {provider.label} number"
    else:
        wrote = f"{number} last wrote {ago(now - last_wrote)} ago ({_when(last_wrote)})"
    if templates:
        instead = f"send an approved template instead with --template NAME (templates: {names_of(templates)})"
    else:
        instead = "an admin must add an approved template to SOCIOCS_TEMPLATES_FILE first"
    return (
        f"{wrote}, so WhatsApp accepts only an approved template: free text is allowed within 24 h of the "
        f"customer's last message. Nothing was sent; {instead}."
    )


def closes_before_schedule(
    number: str, last_wrote: datetime, now: datetime, send_at: datetime, templates: Sequence[Template]
) -> str:
    """Why scheduled free text is refused although the window is open now: it closes before the time
    the message is for (all naive UTC). Judged from what is known when scheduling: a customer who
    writes again in between would reopen it, but the bot cannot count on that."""
    until = last_wrote + WINDOW
    instead = (
        f"send an approved template instead with --template NAME (templates: {names_of(templates)})"
        if templates
        else "or an admin must add an approved template to SOCIOCS_TEMPLATES_FILE"
    )
    return (
        f"{number} last wrote {ago(now - last_wrote)} ago, so the 24-hour window for free text closes at "
        f"{_when(until)}, before the scheduled time ({_when(send_at)}): WhatsApp would refuse it then. "
        f"Nothing was scheduled; choose a time before the window closes, or {instead}."
    )


def state(last_wrote: datetime | None, now: datetime) -> str:
    """The window's state for the form, e.g. `customer wrote 3 h ago: free text allowed until 17:05 UTC`."""
    if last_wrote is None:
        return "The customer has never written on this channel: only a template can be sent."
    until = last_wrote + WINDOW
    if now < until:
        return f"The customer wrote {ago(now - last_wrote)} ago: free text allowed until {_when(until)}."
    return f"The customer last wrote {ago(now - last_wrote)} ago: the 24-hour window is closed, only a template."


# Delivery errors that mean "outside the window": Twilio's 63016 ("Failed to send freeform message because
# you are outside the allowed window"), and on Gupshup Meta's 131047 ("Re-engagement message": more than
# 24 hours since the customer last replied), which Gupshup passes through.
OUTSIDE_WINDOW_CODES = {Provider.TWLOWA: frozenset({"63016"}), Provider.GSWA: frozenset({"131047"})}


def outside_window(provider: str, code: str | None) -> bool:
    """Whether a failed delivery's error code on `provider` means the 24-hour window was closed."""
    try:
        codes = OUTSIDE_WINDOW_CODES.get(Provider(provider), frozenset())
    except ValueError:
        return False
    return code is not None and code.strip() in codes
