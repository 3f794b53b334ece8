"""`/sms` with contact names, and `/sms block|unblock NUMBER`.

Names are looked up after Slack has its answer (Sociocs may be slow; Slack gives 3 s). Everything that
needs no lookup is checked first, so a mistake is answered at once; the numbers of the same command are
recorded before the answer, as any command's are, and so are the names (`bot.contact_choices`: held
in the ledger until each is settled). Each name then goes its own way: one match is sent (with the
contact's name), several are offered as buttons (`actions/contact_choice.py`), none or a failed search
is told privately. A crash between the answer and a name's end leaves the name held: the recovery
sweep tells its author it was not sent (`bot.slack.recovery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.contact_choices import HeldNames
from bot.contacts import ContactsUnavailable, Match
from bot.domain.draft import DraftError, Problem, RawDraft
from bot.domain.held import raw_to_json
from bot.domain.phone import InvalidNumber, parse_number
from bot.sending import Accepted, Requester
from bot.slack.command import BlockRequest, SendRequest
from bot.slack.contact_texts import (
    NOT_ADMIN,
    block_done,
    choice_blocks,
    looking_up,
    no_match,
    quoted,
    unavailable,
)
from bot.slack.context import Bot
from bot.slack.listeners.send_later import (
    refused_before_ack,
    still_ahead,
    when_before_ack,
)
from bot.slack.messages import refusal_text
from bot.slack.outbox import slack_call
from bot.slack.report import PrivateSink, ephemeral
from bot.slack.scheduled_text import scheduled_note
from bot.slack.text import shown
from bot.slack.zones import ZoneUnknown

log = logging.getLogger(__name__)

RawFor = Callable[[dict[str, str] | None], RawDraft]


async def names_command(
    bot: Bot,
    ack: AsyncAck,
    request: SendRequest,
    raw_for: RawFor,
    who: Requester,
    respond: AsyncRespond,
    send_numbers: Callable[[Accepted], Coroutine[Any, Any, None]],
) -> None:
    """Check what needs no lookup, record the numbers and hold the names, answer Slack, then look the
    names up. With `--at WHEN` the sender's zone is read first (within a budget; refused when Slack
    cannot tell in time), so nothing is acknowledged that is not recorded."""
    total = len(request.recipients) + len(request.contact_names)
    raw = raw_for(None)
    try:
        if not bot.contacts.available:  # a dry run: no Sociocs to search, so say so now, not "try again"
            names = ", ".join(f"“{n}”" for n in request.contact_names)  # escaped with the refusal
            raise DraftError(
                [
                    Problem(
                        "to",
                        f"{names}: contact names are looked up in Sociocs, and this is a dry run "
                        "(no SOCIOCS_API_KEY). Use the number.",
                    )
                ]
            )
        if total > bot.settings.max_recipients:
            raise DraftError(
                [Problem("to", f"{total} recipients is too many: at most {bot.settings.max_recipients} per message.")]
            )
        if request.send_at is not None:
            raw = replace(raw, send_at=await when_before_ack(bot, request.send_at, who.user_id))
        problems = await bot.service.who_may_send(who.user_id, who.channel_id)
        if problems:
            raise DraftError(problems)
        draft = bot.draft(raw) if request.recipients else None
        if draft is None:
            content_problems(bot, raw)
        held = await bot.choices.hold_names(
            who.team_id, str(who.user_id), str(who.channel_id), list(request.contact_names)
        )
        try:
            accepted = await bot.service.accept(draft, who) if draft is not None else None
        except Exception:  # refused (or the ledger failed) as a whole: not acknowledged, names not looked up
            await _settle(bot, *held.ids)
            raise
    except (ZoneUnknown, DraftError) as exc:
        await ack(response_type="ephemeral", text=refused_before_ack(exc))
        return
    await ack(response_type="ephemeral", text=looking_up(request.contact_names))
    if accepted is not None:
        bot.background.spawn(send_numbers(accepted), name="sms-command")
    bot.background.spawn(_names(bot, request, raw_for, who, ephemeral(respond), raw.send_at, held), name="sms-contacts")


def content_problems(bot: Bot, raw: RawDraft) -> None:
    """The draft's own checks (provider, text, media) when it has no number yet: raises DraftError."""
    try:
        bot.draft(raw)
    except DraftError as exc:
        problems = [p for p in exc.problems if p.field != "to"]
        if problems:
            raise DraftError(problems) from None


async def _names(
    bot: Bot,
    request: SendRequest,
    raw_for: RawFor,
    who: Requester,
    tell: PrivateSink,
    send_at: datetime | None,
    held: HeldNames,
) -> None:
    """Each name looked up and sent, offered or refused. The refusals go in one private message at the
    end (a response_url takes 5 messages), each choice in its own (its buttons replace it). Each name is
    settled in the ledger once its end is recorded (its send, its choice) or told (its refusal)."""
    mentions = await bot.names.names_for(request.message)
    raw = replace(raw_for(mentions), send_at=send_at)
    refusals: list[str] = []
    refused: list[str] = []
    for held_id, typed in zip(held.ids, held.typed, strict=True):
        try:
            lookup = await bot.contacts.look_up(typed)
        except ContactsUnavailable as exc:
            log.warning("contact search unavailable: %s", exc)
            refusals.append(unavailable(typed))
            refused.append(held_id)
            continue
        try:
            if not lookup.matches:
                refusals.append(no_match(typed))
                refused.append(held_id)
            elif len(lookup.matches) == 1:
                await send_to_contact(bot, raw, lookup.matches[0], who, tell, settled=held_id)
            else:
                await _offer(bot, raw, typed, lookup.matches, who, tell, held_id, refusals)
        except Exception:  # the ledger failing, say: told now, so the name is not left to a restart
            log.exception("a looked-up contact name could not be handled")
            refusals.append(
                f":warning: Something went wrong with {quoted(typed)}: unless its message appears in the channel, "
                "nothing was sent to it. Try again shortly."
            )
            refused.append(held_id)
    if refusals:
        await tell("\n".join(refusals))
    await _settle(bot, *refused)


async def _offer(
    bot: Bot,
    raw: RawDraft,
    typed: str,
    matches: tuple[Match, ...],
    who: Requester,
    tell: PrivateSink,
    held_id: str,
    refusals: list[str],
) -> None:
    """Several contacts match: the message is held for its author's choice, offered with buttons."""
    pairs = [(m.number, m.name) for m in matches]
    try:
        choice_id = await bot.choices.hold_choice(
            team_id=who.team_id,
            user_id=str(who.user_id),
            channel_id=str(who.channel_id),
            typed=typed,
            request=raw_to_json(raw),
            matches=pairs,
        )
    except Exception:
        log.exception("could not keep a contact choice in the ledger")
        refusals.append(
            f":warning: Not sent to {quoted(typed)}: several contacts match, and the bot "
            "cannot keep the choice right now. Try again shortly, or use the number."
        )
        return
    log.info("contact choice %s: %d matches, asking %s", choice_id, len(matches), who.user_id)
    await tell(
        f"Several Sociocs contacts match “{shown(typed)}”: choose one.",
        choice_blocks(choice_id, typed, pairs, raw.text, held_note(raw)),
    )
    await _settle(bot, held_id)


async def _settle(bot: Bot, *held_ids: str) -> None:
    """Names whose end is recorded or told: the recovery sweep has nothing to say of them."""
    if not held_ids:
        return
    try:
        await bot.choices.settle(*held_ids)
    except Exception:  # the names then look lost to the recovery sweep: it says so, never more
        log.exception("could not note %d looked-up names as settled", len(held_ids))


async def send_to_contact(
    bot: Bot, raw: RawDraft, match: Match, who: Requester, tell: PrivateSink, *, settled: str | None = None
) -> bool:
    """The message to one contact, with the contact's name, through every check; False if refused.

    A scheduled one is checked again for time: the lookup, or the person's choice, came later. `settled`
    is the held name it answers: settled once the send is recorded (or its refusal told), before the
    send goes out, so a crash after it is the send's to report, and one before it the name's."""
    try:
        still_ahead(raw.send_at)
        draft = bot.draft(replace(raw, recipients=[match.number], name=match.name or raw.name))
        accepted = await bot.service.accept(draft, who)
    except DraftError as exc:
        await tell(refusal_text(exc))
        if settled is not None:
            await _settle(bot, settled)
        return False
    if settled is not None:
        await _settle(bot, settled)
    await bot.deliver(accepted, channel_id=str(who.channel_id), private=tell)
    return True


def held_note(raw: RawDraft) -> str | None:
    """What the choice holds beside its text: the template with its values, the time it is for."""
    parts = []
    if raw.template is not None:
        parts.append(f"Template *{shown(raw.template)}*: " + " | ".join(shown(v) for v in raw.template_values))
    if raw.send_at is not None:
        parts.append(scheduled_note(raw.send_at))
    return " · ".join(parts) or None


async def block_command(bot: Bot, ack: AsyncAck, command: dict[str, Any], request: BlockRequest) -> None:
    """`/sms block NUMBER`: admins only; Sociocs is called after the answer, then a line is posted."""
    user = str(command.get("user_id"))
    if user not in bot.settings.admin_user_ids:
        await ack(response_type="ephemeral", text=NOT_ADMIN)
        return
    try:
        number = parse_number(request.number, bot.settings.default_region)
    except InvalidNumber as exc:
        await ack(response_type="ephemeral", text=f":warning: {shown(exc.number)} {exc.reason}.")
        return
    await ack()
    channel = str(command.get("channel_id"))
    bot.background.spawn(
        set_blocked(bot, number.e164, request.blocked, user, channel, None, bot.direct_message(user)),
        name="sms-block",
    )


async def set_blocked(
    bot: Bot, number: str, blocked: bool, user: str, channel: str, thread_ts: str | None, tell: PrivateSink
) -> None:
    """Block or unblock in Sociocs, then say so in the conversation (privately when it cannot be posted)."""
    verb = "block" if blocked else "unblock"
    try:
        await bot.contacts.set_blocked(number, blocked)
    except ContactsUnavailable as exc:
        log.warning("could not %s a number in Sociocs: %s", verb, exc)
        await tell(f":warning: Could not {verb} the number in Sociocs: {shown(str(exc))}. Nothing changed.")
        return
    log.info("%s %sed a number in Sociocs", user, verb)
    line = block_done(user, number, blocked)
    posted = await slack_call(
        bot.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=line, unfurl_links=False, link_names=False
        ),
        f"post the {verb} line",
    )
    if posted is None:
        await tell(line)
