"""The To field's choices as the person types: a typed number as its own choice, then matching Sociocs
contacts (name and masked number).

Slack waits 3 s for the answer and shows nothing after that, so the search has a short timeout and is
cached (`bot.contacts`); when Sociocs is slow or down, only the typed number is offered.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.contacts import TYPEAHEAD_TIMEOUT, ContactsUnavailable
from bot.domain.phone import InvalidNumber, looks_like_number, parse_number
from bot.slack.contact_texts import match_label
from bot.slack.context import bot_of
from bot.slack.views import TO_MIN_QUERY, to_option

log = logging.getLogger(__name__)

MAX_OPTIONS = 10


async def to_options(ack: AsyncAck, payload: dict[str, Any], context: AsyncBoltContext) -> None:
    bot = bot_of(context)
    query = str(payload.get("value") or "").strip()
    options: list[dict[str, Any]] = []
    if looks_like_number(query):
        try:
            number = parse_number(query, bot.settings.default_region)
        except InvalidNumber:
            pass
        else:
            options.append(to_option(number.e164, label=f"{number.e164} (the number as typed)").to_dict())
    if len(query) >= TO_MIN_QUERY and bot.contacts.available:
        try:
            matches = await bot.contacts.search(query, limit=MAX_OPTIONS, timeout=TYPEAHEAD_TIMEOUT)
        except ContactsUnavailable as exc:
            log.warning("contact typeahead: the search is unavailable (%s)", exc)
            matches = ()
        seen = {o["value"] for o in options}
        for match in matches:
            option = to_option(match.number, match.name, match_label(match.number, match.name)).to_dict()
            if option["value"] not in seen and len(options) < MAX_OPTIONS:
                options.append(option)
    await ack(options=options)
