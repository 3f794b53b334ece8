"""A button of the choice offered when a name matched several Sociocs contacts: send the held message
to that contact (once, whoever presses how often), or cancel. Only the command's author may choose,
within half an hour; the choice is kept in the ledger (`contact_choices`), so it survives a restart."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from bot.contact_choices import (
    CHOICE_MINUTES,
    ChoiceExpired,
    ChoiceGone,
    ChoiceTaken,
    NotTheAuthor,
    UnknownContact,
)
from bot.contacts import Match
from bot.domain.held import raw_from_json
from bot.domain.phone import mask
from bot.sending import Requester
from bot.slack.contact_texts import CONTACT_CANCEL, match_label
from bot.slack.context import Bot, bot_of
from bot.slack.listeners.commands.contacts import send_to_contact
from bot.slack.report import ephemeral

log = logging.getLogger(__name__)

GONE = "I have no record of that choice, so nothing was sent."
ALREADY = "That choice was already made (or cancelled), so nothing more was sent."


async def contact_chosen(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    bot = bot_of(context)
    bot.background.spawn(_choose(bot, body, action, respond), name="contact-choice")


async def _choose(bot: Bot, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
    tell = ephemeral(respond)
    try:
        value = json.loads(str(action.get("value")))
        choice_id, index = str(value["c"]), value.get("i")
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("a contact choice with an unreadable value")
        return
    presser = str((body.get("user") or {}).get("id"))
    cancelling = action.get("action_id") == CONTACT_CANCEL
    try:
        choice = await bot.choices.claim(
            choice_id, presser, index if isinstance(index, int) else None, cancelling=cancelling
        )
    except ChoiceGone:
        await tell(GONE)
        return
    except NotTheAuthor as exc:
        await tell(f"Only <@{exc.author}>, who sent the command, can choose. Nothing was sent.")
        return
    except ChoiceExpired:
        await tell(
            f"That choice is more than {CHOICE_MINUTES} minutes old, so nothing was sent: send the command again."
        )
        return
    except UnknownContact:
        log.warning("contact choice %s pressed with an unknown index", choice_id)
        return
    except ChoiceTaken:
        await tell(ALREADY)
        return
    if cancelling:
        await respond(text="Cancelled: nothing was sent.", replace_original=True)
        return
    assert isinstance(index, int)
    number, name = choice.matches[index]
    who = Requester(choice.team_id, presser, choice.channel_id, "command")
    raw = replace(raw_from_json(choice.request), recipients=[number])
    log.info("contact choice %s: %s chose %s", choice_id, presser, mask(number))
    try:
        await respond(
            text=f"Sending to {match_label(number, name)}: the outcome follows in the conversation.",
            replace_original=True,
        )
    except Exception:
        log.warning("could not replace the contact choice %s", choice_id)
    if not await send_to_contact(bot, raw, Match(number, name), who, tell):
        await bot.choices.release(choice_id)  # refused: nothing went out, so they may choose again
