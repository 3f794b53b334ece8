"""`/sms` with contact names, and `/sms block|unblock NUMBER`.

Names are looked up after Slack has its answer (Sociocs may be slow; Slack gives 3 s). Everything that
needs no lookup is checked first, so a mistake is answered at once; the numbers of the same command are
recorded before the answer, as any command's are. Each name then goes its own way: one match is sent
(with the contact's name), several are offered as buttons (`actions/contact_choice.py`), none or a
failed search is told privately. A crash between the answer and the lookup loses only the lookup,
which the person saw announced ("Looking up …") and never saw concluded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.contacts import ContactsUnavailable, Match
from bot.domain.draft import DraftError, Problem, RawDraft
from bot.domain.phone import InvalidNumber, parse_number
from bot.domain.providers import Provider
from bot.domain.schedule import zone_named
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
from bot.slack.listeners.send_later import ZONE_UNKNOWN, check_readable, still_ahead, when_from_text
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
    """Check what needs no lookup, record the numbers, answer Slack, then look the names up.

    With `--at WHEN` the sender's zone is needed too: when it is cached, WHEN is read and the numbers
    recorded before the answer as for any command; otherwise both wait, with the names, until after it
    (as a lone `--at` does), and refusals then come privately."""
    total = len(request.recipients) + len(request.contact_names)
    raw = raw_for(None)
    zone = bot.zones.cached(who.user_id) if request.send_at is not None else None
    later = request.send_at is not None and zone is None  # the zone is looked up after the answer
    try:
        if total > bot.settings.max_recipients:
            raise DraftError(
                [Problem("to", f"{total} recipients is too many: at most {bot.settings.max_recipients} per message.")]
            )
        if request.send_at is not None:
            check_readable(request.send_at)
            if zone is not None:
                raw = replace(raw, send_at=when_from_text(request.send_at, zone))
        problems = await bot.service.who_may_send(who.user_id, who.channel_id)
        if problems:
            raise DraftError(problems)
        accepted = await bot.service.accept(bot.draft(raw), who) if request.recipients and not later else None
        if accepted is None:
            content_problems(bot, raw)
    except DraftError as exc:
        await ack(response_type="ephemeral", text=refusal_text(exc))
        return
    await ack(response_type="ephemeral", text=looking_up(request.contact_names))
    if accepted is not None:
        bot.background.spawn(send_numbers(accepted), name="sms-command")
    bot.background.spawn(
        _names(bot, request, raw_for, who, ephemeral(respond), raw.send_at, send_numbers if later else None),
        name="sms-contacts",
    )


async def _read_later(bot: Bot, when: str, who: Requester) -> datetime:
    """WHEN in the sender's zone, looked up in Slack (after the answer): ZoneUnknown, DraftError."""
    return when_from_text(when, await bot.zones.zone_of(bot.names.user, str(who.user_id)))


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
    send_at: datetime | None = None,
    send_numbers: Callable[[Accepted], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Each name looked up and sent, offered or refused. The refusals go in one private message at the
    end (a response_url takes 5 messages), each choice in its own (its buttons replace it).

    `send_at` is WHEN as read before the answer; None with `--at` means the zone was not cached: it is
    looked up now, and the command's numbers (`send_numbers`) are recorded now too."""
    if request.send_at is not None and send_at is None:
        try:
            send_at = await _read_later(bot, request.send_at, who)
        except ZoneUnknown:
            await tell(ZONE_UNKNOWN)
            return
        except DraftError as exc:
            await tell(refusal_text(exc))
            return
        if send_numbers is not None and request.recipients:
            try:
                accepted = await bot.service.accept(bot.draft(replace(raw_for(None), send_at=send_at)), who)
            except DraftError as exc:
                await tell(refusal_text(exc))
                return
            bot.background.spawn(send_numbers(accepted), name="sms-command")
    mentions = await bot.names.names_for(request.message)
    raw = replace(raw_for(mentions), send_at=send_at)
    refusals: list[str] = []
    for typed in request.contact_names:
        try:
            lookup = await bot.contacts.look_up(typed)
        except ContactsUnavailable as exc:
            log.warning("contact search unavailable: %s", exc)
            refusals.append(unavailable(typed))
            continue
        if not lookup.matches:
            refusals.append(no_match(typed))
        elif len(lookup.matches) == 1:
            await send_to_contact(bot, raw, lookup.matches[0], who, tell)
        else:
            try:
                choice_id = await bot.ledger.hold_choice(
                    team_id=who.team_id,
                    user_id=str(who.user_id),
                    channel_id=str(who.channel_id),
                    typed=typed,
                    request=raw_to_json(raw),
                    matches=[(m.number, m.name) for m in lookup.matches],
                )
            except Exception:
                log.exception("could not keep a contact choice in the ledger")
                refusals.append(
                    f":warning: Not sent to {quoted(typed)}: several contacts match, and the bot "
                    "cannot keep the choice right now. Try again shortly, or use the number."
                )
                continue
            log.info("contact choice %s: %d matches, asking %s", choice_id, len(lookup.matches), who.user_id)
            pairs = [(m.number, m.name) for m in lookup.matches]
            await tell(
                f"Several Sociocs contacts match “{shown(typed)}”: choose one.",
                choice_blocks(choice_id, typed, pairs, raw.text, held_note(raw)),
            )
    if refusals:
        await tell("\n".join(refusals))


async def send_to_contact(bot: Bot, raw: RawDraft, match: Match, who: Requester, tell: PrivateSink) -> bool:
    """The message to one contact, with the contact's name, through every check; False if refused.

    A scheduled one is checked again for time: the lookup, or the person's choice, came later."""
    try:
        still_ahead(raw.send_at)
        draft = bot.draft(replace(raw, recipients=[match.number], name=match.name or raw.name))
        accepted = await bot.service.accept(draft, who)
    except DraftError as exc:
        await tell(refusal_text(exc))
        return False
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


def raw_to_json(raw: RawDraft) -> dict[str, Any]:
    """What a held choice keeps of the message: every field but the recipient (it comes from the
    choice), so the contact chosen gets exactly the message the command asked for. A schedule keeps
    its zone's name, so the summary says `09:00 EST`, not a bare offset."""
    return {
        "provider": raw.provider.value if raw.provider else None,
        "text": raw.text,
        "name": raw.name,
        "image_urls": list(raw.image_urls),
        "file_url": raw.file_url,
        "save_contact": raw.save_contact,
        "send_at": raw.send_at.isoformat() if raw.send_at is not None else None,
        "send_zone": getattr(raw.send_at.tzinfo, "key", None) if raw.send_at is not None else None,
        "template": raw.template,
        "template_values": list(raw.template_values),
        "video_url": raw.video_url,
    }


def raw_from_json(data: dict[str, Any]) -> RawDraft:
    """The held message back (a choice held before a field was kept has that field's default)."""
    provider = data.get("provider")
    send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    if send_at is not None and data.get("send_zone"):
        send_at = send_at.astimezone(zone_named(str(data["send_zone"])))
    return RawDraft(
        recipients=[],
        text=str(data.get("text") or ""),
        provider=Provider(provider) if provider else None,
        name=data.get("name"),
        image_urls=[str(u) for u in data.get("image_urls") or []],
        file_url=data.get("file_url"),
        save_contact=bool(data.get("save_contact")),
        send_at=send_at,
        template=data.get("template"),
        template_values=[str(v) for v in data.get("template_values") or []],
        video_url=data.get("video_url"),
    )


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
