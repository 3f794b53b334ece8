"""What the bot says in Slack. Every piece of user or Sociocs text is escaped before it goes in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.conversations import AlreadyChosen, ChoiceExpired, MentionGone, NotYourChoice
from bot.domain.draft import Draft, DraftError
from bot.domain.opt_out import is_opt_out
from bot.domain.outcome import Outcome, OutcomeKind
from bot.domain.payload import MessagePayload
from bot.domain.phone import PhoneNumber
from bot.domain.providers import PROVIDER_ORDER, Provider
from bot.domain.segments import Encoding, count_segments
from bot.ledger import SendRecord, ThreadCustomer
from bot.sending import NothingToRetry, UnknownSend
from bot.slack.contact_texts import opt_out_blocks
from bot.slack.scheduled_text import scheduled_note, when_text
from bot.slack.text import defuse, escape, shown
from bot.slack.whatsapp import summary_blocks
from bot.sociocs.webhooks import IncomingMessage

Block = dict[str, Any]
_SECTION_LIMIT = 2800  # Slack allows 3000 characters per section text; counted after escaping and quoting.

USAGE = (
    "/sms [PROVIDER] RECIPIENTS [--name NAME] [--image URL]... [--video URL] [--file URL]"
    " [--template NAME] [--at WHEN] [--save] MESSAGE"
)


def problems_text(error: DraftError) -> str:
    """Why nothing was sent, one line per problem."""
    lines = "\n".join(f"• {shown(p.message)}" for p in error.problems)
    return f":warning: Nothing was sent. Please fix:\n{lines}"


Refusal = DraftError | UnknownSend | NothingToRetry | MentionGone | ChoiceExpired | NotYourChoice | AlreadyChosen


def refusal_text(error: Refusal) -> str:
    """What the person is told when a service refuses: the one place its typed errors become words."""
    if isinstance(error, MentionGone):
        return "I have no record of that message, so nothing was sent."
    if isinstance(error, ChoiceExpired):
        return "That choice is more than half an hour old, so nothing was sent: mention me again to send it."
    if isinstance(error, NotYourChoice):
        return f"Only <@{error.author}>, who mentioned me, can choose who gets that message. Nothing was sent."
    if isinstance(error, AlreadyChosen):
        return ALREADY
    if isinstance(error, UnknownSend):
        return ":warning: I have no record of that message, so nothing was sent."
    if isinstance(error, NothingToRetry):
        return "That message was already retried or sent, so nothing was sent again."
    return problems_text(error)


def help_text(
    configured: dict[Provider, str], default: Provider | None, whatsapp: Provider, max_recipients: int
) -> str:
    providers = ", ".join(f"`{p.value}` {p.label}" for p in PROVIDER_ORDER if p in configured) or "none configured yet"
    return "\n".join(
        [
            f"*Send an SMS or WhatsApp message:* `{USAGE}`",
            "",
            "• `/sms +16175551212 Your order is ready` sends with the default provider"
            + (f" ({default.label})." if default else "."),
            "• `/sms whatsapp +1 (617) 555-1212 Hi!` picks the provider: `sms`/`twlo`, "
            f"`whatsapp`/`wa` ({whatsapp.label}), `twlowa`, `gswa`.",
            f"• `/sms +16175551212, +16175551213 Closed today` sends to several numbers (at most {max_recipients})."
            " Write numbers with their country code (`+1…`, `+44…` or `00…`).",
            '• `/sms +16175551212 --name "Jane Doe" --image https://example.com/a.png Here it is`'
            " adds a name and media (SMS only); `--image` may repeat, `--video URL` and `--file URL` attach one each;"
            " media without text is fine.",
            '• `/sms +16175551212 --at "tomorrow 9am" See you then` sends later, in your time zone'
            " (`YYYY-MM-DD HH:MM`, `HH:MM`, `tomorrow 9am`, `mon 14:00`, `in 2h`);"
            " `/sms scheduled` lists yours, with a Cancel button each.",
            "• Put `--` before a message that starts with a dash, or with digits that could be read"
            " as part of the number.",
            '• `/sms "Jane Doe", +16175551213 Closed today` sends to a Sociocs contact by name (a quoted name, or one'
            " word that is not a number); `--save` saves the recipient as a Sociocs contact.",
            "• `/sms block +16175551212`, `/sms unblock +16175551212` (admins only) block or unblock a number"
            " in Sociocs.",
            "• `/sms history` lists your last 10 messages and what happened to them; `/sms help` shows this.",
            "• `/sms inbox` lists the open conversations, yours then unassigned, those waiting for an answer"
            " first. The bot's Home tab shows them too, with your recent and scheduled messages.",
            "",
            f"Providers here: {providers}. The outcome of each message is posted in a thread under the message.",
        ]
    )


def _sections(lines: list[tuple[str, str, str]]) -> list[Block]:
    """Verbatim sections of (prefix, text, continuation prefix) lines, text shown safely, each within the limit.

    Lengths are counted after escaping (`&` becomes five characters) and prefixing; a line too long for one
    section is cut between characters, so an entity is never split.
    """
    rendered: list[str] = []
    for prefix, text, continued in lines:
        current = prefix
        for ch in defuse(text):
            piece = escape(ch)
            if len(current) + len(piece) > _SECTION_LIMIT:
                rendered.append(current)
                current = continued
            current += piece
        rendered.append(current)
    texts: list[str] = []
    for line in rendered:
        if texts and len(texts[-1]) + 1 + len(line) <= _SECTION_LIMIT:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": t, "verbatim": True}} for t in texts]


def quote_blocks(text: str) -> list[Block]:
    """The text as quoted sections, split to stay inside Slack's section limit."""
    return _sections([("> " if line else ">", line, "> ") for line in text.split("\n")])


def _recipient(number: PhoneNumber, name: str | None) -> str:
    """`Jane Doe (*+16175551212*)` with a name (the customer as people know them, #14), else the number."""
    return f"{shown(name)} (*{number.e164}*)" if name else f"*{number.e164}*"


def segment_note(provider: Provider, text: str) -> str | None:
    """`1 segment, GSM-7 (11/160)`, with a warning when one character forces UCS-2."""
    if not provider.is_sms or not text:
        return None
    info = count_segments(text)
    note = f"SMS: {info.describe()}"
    if info.encoding is Encoding.UCS2:
        chars = " ".join(info.non_gsm_chars[:5])
        note += f"; UCS-2 because of {shown(chars)}"
    return note


def summary_text(draft: Draft, sender_id: str | None) -> str:
    """One line naming sender, provider and recipients: the message's notification text."""
    who = f"<@{sender_id}>" if sender_id else "Someone"
    to = ", ".join(_recipient(r, draft.name) for r in draft.recipients)
    verb = "scheduled" if draft.schedule is not None else "sent"
    return f"{who} {verb} {draft.provider.label} to {to}"


def parent_blocks(draft: Draft, sender_id: str | None, *, dry_run: bool, window_known: bool = True) -> list[Block]:
    """The top-level message: who, to whom, which provider, the text and the media."""
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ":outbox_tray: " + summary_text(draft, sender_id), "verbatim": True},
        }
    ]
    if draft.schedule is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": scheduled_note(draft.schedule)}})
    if draft.text:
        blocks.extend(quote_blocks(draft.text))
    whatsapp_blocks, notes = summary_blocks(draft, window_known=window_known, quote=quote_blocks)
    blocks.extend(whatsapp_blocks)
    media = [("Image: ", u, "") for u in draft.image_urls]
    if draft.file_url:
        media.append(("File: ", draft.file_url, ""))
    if media:
        blocks.extend(_sections(media))
    context = [n for n in (segment_note(draft.provider, draft.text),) if n] + notes
    if dry_run:
        context.append("Dry run: nothing is sent to Sociocs.")
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context), "verbatim": True}]}
        )
    return blocks


RETRY_ACTION = "retry_send"


def outcome_blocks(line: str, send_id: str | None, outcome: Outcome) -> list[Block] | None:
    """The outcome line, with a Retry button when the message failed or may not have gone out."""
    if send_id is None or outcome.kind not in (OutcomeKind.FAILED, OutcomeKind.UNKNOWN):
        return None
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": line[:2900], "verbatim": True}},
        {
            "type": "actions",
            "block_id": f"retry:{send_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": RETRY_ACTION,
                    "text": {"type": "plain_text", "text": "Retry"},
                    "value": send_id,
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Send it again?"},
                        "text": {
                            "type": "mrkdwn",
                            "text": "Check Sociocs first if the outcome was unknown: the customer may already "
                            "have the message.",
                        },
                        "confirm": {"type": "plain_text", "text": "Send again"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                }
            ],
        },
    ]


def outcome_text(recipient: PhoneNumber, payload: MessagePayload | None, outcome: Outcome) -> str:
    """One line (or a few) saying what happened to the message for one recipient."""
    to = recipient.e164
    status = f" (HTTP {outcome.http_status})" if outcome.http_status else ""
    error = shown(outcome.error or "")
    advice = outcome.advice()
    tail = f" {advice}" if advice else ""
    match outcome.kind:
        case OutcomeKind.SENT if payload is not None and payload.schedule:
            when = when_text(datetime.fromisoformat(payload.schedule))
            message_id = shown(outcome.message_id or "")
            return f":alarm_clock: Scheduled for {when} to {to}. Sociocs message id `{message_id}`."
        case OutcomeKind.SENT:
            return f":white_check_mark: Sent to {to}. Sociocs message id `{shown(outcome.message_id or '')}`."
        case OutcomeKind.FAILED if outcome.http_status is not None:
            return f":x: Not sent to {to}: Sociocs said “{error}”{status}.{tail}"
        case OutcomeKind.FAILED:
            return f":x: Not sent to {to}: {error}.{tail}"
        case OutcomeKind.UNKNOWN:
            return f":warning: Outcome unknown for {to}: {error}{status}.{tail}"
        case OutcomeKind.DRY_RUN:
            body = shown(json.dumps(payload.redacted() if payload else {}, ensure_ascii=False, indent=1))
            return f":test_tube: Dry run: not sent to {to}. The Sociocs request would be:\n```POST /message\n{body}```"
    raise AssertionError(outcome.kind)


def history_text(rows: list[tuple[float, str, str, str, str | None]]) -> str:
    """`/sms history`: (epoch, recipient, provider label, status, message id or error) per send, newest first."""
    if not rows:
        return "You have not sent any messages with this bot yet."
    icons = {
        "sent": ":white_check_mark:",
        "failed": ":x:",
        "unknown": ":warning:",
        "dry_run": ":test_tube:",
        "scheduled": ":alarm_clock:",
        "cancelled": ":no_entry_sign:",
    }
    lines = ["*Your last messages*"]
    for epoch, recipient, provider, status, detail in rows:
        fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
        when = f"<!date^{int(epoch)}^{{date_short_pretty}} {{time}}|{fallback}>"
        icon = icons.get(status, ":hourglass_flowing_sand:")
        extra = f" ({shown(detail)})" if detail else ""
        lines.append(f"• {when} · {recipient} · {provider} · {icon} {status.replace('_', ' ')}{extra}")
    return "\n".join(lines)


# A mention in a thread with several customers: its author chooses who gets it.

CHOICE_TEXT = "This thread has several customers: who should get it?"
CHOOSE_PREFIX = "mention_to_"
CANCEL_ACTION = "mention_cancel"
MAX_CHOICES = 10
ALREADY = "Someone already chose for that message (or cancelled it), so nothing more was sent."


def customer_label(customer: ThreadCustomer, *, provider: bool = False) -> str:
    """`+16175551212 (Ann Lee)`, as the summaries show recipients (the name escaped); with `provider`,
    `… on WhatsApp (Twilio)` too."""
    label = customer.number + (f" ({escape(customer.name)})" if customer.name else "")
    return label + (f" on {Provider(customer.provider).label}" if provider else "")


def choice_blocks(mention_id: str, text: str, customers: list[ThreadCustomer]) -> list[dict[str, Any]]:
    """The question, the text waiting, and one button per customer (at most MAX_CHOICES) and Cancel.

    Buttons carry the held mention's id and the customer's place in it, never the text (a button's
    value holds 2,000 characters) nor the number: only what the ledger kept can be chosen.
    """
    offered = customers[:MAX_CHOICES]
    several_providers = len({c.provider for c in offered}) > 1  # one number may be on SMS and WhatsApp
    listed = "\n".join(
        f"• *{c.number}*" + (f" ({escape(c.name)})" if c.name else "") + f" on {Provider(c.provider).label}"
        for c in offered
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":busts_in_silhouette: {CHOICE_TEXT}\n{listed}"}},
        *quote_blocks(text),
    ]
    if len(customers) > len(offered):
        more = len(customers) - len(offered)
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"…and {more} more: answer them with the Reply button under their message.",
                    }
                ],
            }
        )
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": f"{CHOOSE_PREFIX}{i}",
            "text": {"type": "plain_text", "text": _clip(customer_label(c, provider=several_providers), 75)},
            "value": json.dumps({"m": mention_id, "i": i}),
        }
        for i, c in enumerate(offered)
    ]
    buttons.append(
        {
            "type": "button",
            "action_id": CANCEL_ACTION,
            "text": {"type": "plain_text", "text": "Cancel"},
            "value": json.dumps({"m": mention_id}),
        }
    )
    blocks.append({"type": "actions", "block_id": "mention_choice", "elements": buttons})
    return blocks[:50]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Conversations: delivery statuses and customers' messages.

REPLY_ACTION = "reply_sms"
_ICONS = {
    "sent": ":outbox_tray:",
    "delivered": ":white_check_mark:",
    "read": ":eyes:",
    "failed": ":x:",
    "undelivered": ":x:",
}


def delivery_line(records: list[SendRecord]) -> str | None:
    """`Delivery: +1617… delivered · +1618… sent`, or None while nothing is known."""
    parts = [
        f"{_ICONS.get(r.delivery_status, ':hourglass_flowing_sand:')} {r.recipient} {r.delivery_status}"
        for r in records
        if r.delivery_status
    ]
    return "Delivery: " + " · ".join(parts) if parts else None


def undelivered_line(recipient: str, status: str, code: str | None, message: str | None) -> str:
    """`:x: Not delivered to +1617… (failed): error 30003 “Unreachable”.`"""
    detail = " ".join(
        p for p in (f"error {shown(code)}" if code else "", f"“{shown(message)}”" if message else "") if p
    )
    return f":x: Not delivered to {recipient} ({status})" + (f": {detail}" if detail else "") + "."


def customer_blocks(
    message: IncomingMessage, provider: Provider, *, new_thread: bool
) -> tuple[str, list[dict[str, Any]]]:
    who = shown(message.sender_name) + f" ({message.number})" if message.sender_name else message.number
    head = (
        f":speech_balloon: New message from *{who}* on {provider.label}"
        if new_thread
        else f":speech_balloon: *{who}* replied"
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head, "verbatim": True}}]
    if message.text:
        blocks.extend(quote_blocks(message.text))
    links = [f"Image: {shown(u)}" for u in message.image_urls]
    links += [f"File: {shown(u)}" for u in message.file_urls]
    links += [f"Video: {shown(u)}" for u in message.video_urls]
    if links:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)[:2900], "verbatim": True}}
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": "customer_reply",
            "elements": [
                {
                    "type": "button",
                    "action_id": REPLY_ACTION,
                    "text": {"type": "plain_text", "text": "Reply"},
                    "value": json.dumps({"p": provider.value, "n": message.number}),
                }
            ],
        }
    )
    if is_opt_out(message.text):  # STOP and kin: marked, with a Block button for admins (#14)
        blocks.extend(opt_out_blocks(message.number, provider.value))
    fallback = f"{head}: {shown(message.text or '')}"[:3000]
    return fallback, blocks
