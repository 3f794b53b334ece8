"""The `/sms` grammar: `/sms [PROVIDER] RECIPIENTS [--name NAME] [--image URL]... [--file URL] MESSAGE`.

The parser reads Slack's raw command text. It keeps the message exactly as typed (newlines, spacing,
emoji) and still in Slack markup, because turning `<@U123>` into a name needs a Slack lookup; the
caller decodes it with `slack.text.decode`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.phone import InvalidNumber, PhoneNumber, looks_like_number, parse_number
from bot.domain.providers import Provider, provider_for_word
from bot.slack.text import unwrap

HELP_WORDS = frozenset({"help", "?", "-h", "--help"})
_TOKEN = re.compile(r"<[^<>]*>|,|[^\s,<]+|<")
_QUOTES = {'"': '"”“', "“": '”“"', "”": '”“"', "'": "'’‘", "‘": "’‘'", "’": "’‘'"}
_DASHES = ("--", "—", "–")
_OPTIONS = ("name", "image", "file", "video", "template", "at", "save")
BLOCK_WORDS = {"block": True, "unblock": False}  # `/sms block NUMBER`, admins only (#14)
MIN_NAME_LENGTH = 2  # Sociocs searches need 2 characters


class UsageError(ValueError):
    """The command text does not follow the grammar; the message says where."""


@dataclass(frozen=True, slots=True)
class HelpRequest:
    """`/sms help`, or `/sms help templates`."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """`/sms history`: the person's last sends."""


@dataclass(frozen=True, slots=True)
class ScheduledRequest:
    """`/sms scheduled`: the person's scheduled messages (an admin's: everyone's)."""


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """`/sms block NUMBER` or `/sms unblock NUMBER` (admins only)."""

    number: str
    blocked: bool


@dataclass(frozen=True, slots=True)
class InboxRequest:
    """`/sms inbox`: the open conversations and Sociocs's unreplied messages, privately."""


@dataclass(frozen=True, slots=True)
class ComposeRequest:
    """`/sms`, `/sms NUMBER` or `/sms whatsapp NUMBER`: nothing to send yet, so open the form."""

    provider: Provider | None = None
    recipients: tuple[str, ...] = ()
    name: str | None = None
    contact_names: tuple[str, ...] = ()
    send_at: str | None = None  # `--at WHEN` as typed: the form's Send at, read as a send reads it
    save: bool = False  # --save: the form opens with Save as contact ticked


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A complete command. `message` is still Slack markup; recipients and URLs are decoded."""

    recipients: tuple[str, ...]
    message: str = ""
    provider: Provider | None = None
    name: str | None = None
    image_urls: tuple[str, ...] = field(default_factory=tuple)
    file_url: str | None = None
    send_at: str | None = None  # `--at WHEN` as typed, read in the sender's zone once it is known
    template: str | None = None  # then `message` holds the template's values, separated by " | "
    video_url: str | None = None
    contact_names: tuple[str, ...] = ()  # recipients typed as names, looked up after the acknowledgement
    save: bool = False  # --save: Sociocs saves the recipient as a contact


Parsed = HelpRequest | HistoryRequest | ComposeRequest | SendRequest | ScheduledRequest | BlockRequest | InboxRequest


class _Scanner:
    """A cursor over the command text that hands out one token at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> tuple[str, int] | None:
        """The next token and the position just after it, or None at the end."""
        match = _TOKEN.search(self.text, self.pos)
        if match is None:
            return None
        return match.group(0), match.end()

    def take(self) -> str | None:
        nxt = self.peek()
        if nxt is None:
            return None
        self.pos = nxt[1]
        return nxt[0]

    def quoted_or_word(self) -> str | None:
        """A value: one word, or a quoted run in straight or curly quotes."""
        rest = self.text[self.pos :]
        stripped = rest.lstrip()
        if not stripped:
            return None
        start = self.pos + (len(rest) - len(stripped))
        closers = _QUOTES.get(stripped[0])
        if closers:
            for i in range(start + 1, len(self.text)):
                if self.text[i] in closers:
                    self.pos = i + 1
                    return self.text[start + 1 : i]
            raise UsageError(f"The quote opened at {stripped[:20]!r} is never closed.")
        match = re.compile(r"\S+").match(self.text, start)
        assert match is not None
        self.pos = match.end()
        return match.group(0)

    def rest(self) -> str:
        return self.text[self.pos :]


def _option_name(token: str) -> str | None:
    for dash in _DASHES:
        if token.startswith(dash) and len(token) > len(dash):
            return token[len(dash) :].lower()
    return None


def _is_number_token(token: str) -> bool:
    return token.startswith("<tel:") or looks_like_number(unwrap(token))


def _parsed(text: str, default_region: str | None) -> PhoneNumber | None:
    try:
        return parse_number(text, default_region)
    except InvalidNumber:
        return None


def _read_recipients(scan: _Scanner, default_region: str | None) -> list[str]:
    recipients: list[str] = []
    while True:
        group: list[tuple[str, int]] = []  # (decoded token, end position)
        while (nxt := scan.peek()) is not None and _is_number_token(nxt[0]):
            group.append((unwrap(nxt[0]), nxt[1]))
            scan.pos = nxt[1]
        if not group:
            return recipients
        nxt = scan.peek()
        if nxt is not None and nxt[0] == ",":
            recipients.append(" ".join(t for t, _ in group))
            scan.pos = nxt[1]
            continue
        # The last number: its digits may be followed by a message starting with digits, so take the
        # longest run of tokens that is a valid number ("+1 617 555 1212 2 for 1" → "+1 617 555 1212").
        for count in range(len(group), 0, -1):
            candidate = " ".join(t for t, _ in group[:count])
            if _parsed(candidate, default_region) is not None:
                recipients.append(candidate)
                scan.pos = group[count - 1][1]
                return recipients
        recipients.append(" ".join(t for t, _ in group))
        return recipients


def _read_name(scan: _Scanner) -> str | None:
    """A recipient typed as a contact name: a quoted run, or one word that is not a number; else None."""
    nxt = scan.peek()
    if nxt is None:
        return None
    token = nxt[0]
    if token == "," or token.startswith(("<", "@", "#")) or _option_name(token) is not None or token in _DASHES:
        return None
    if token[0] in _QUOTES:
        value = " ".join((scan.quoted_or_word() or "").split())
    elif any(ch.isalpha() for ch in token):
        scan.pos = nxt[1]
        value = token
    else:
        return None
    if len(value) < MIN_NAME_LENGTH:
        raise UsageError(f"A contact name needs at least {MIN_NAME_LENGTH} characters; {value!r} is too short.")
    return value


def _read_mixed(scan: _Scanner, default_region: str | None) -> tuple[list[str], list[str]]:
    """Numbers and contact names, separated by commas: numbers first, then names, each in typed order."""
    numbers: list[str] = []
    names: list[str] = []
    while True:
        got = _read_recipients(scan, default_region)
        numbers += got
        if got and not scan.text[: scan.pos].rstrip().endswith(","):
            return numbers, names  # the list ended with a number
        name = _read_name(scan)
        if name is None:
            return numbers, names
        names.append(name)
        nxt = scan.peek()
        if nxt is None or nxt[0] != ",":
            return numbers, names
        scan.pos = nxt[1]


def parse_command(text: str, *, whatsapp_provider: Provider, default_region: str | None = None) -> Parsed:
    """Parse the text after `/sms`. Raises UsageError when it does not follow the grammar."""
    scan = _Scanner(text)
    first = scan.peek()
    if first is None:
        return ComposeRequest()
    if first[0].lower() in HELP_WORDS:
        scan.take()
        topic = (scan.take() or "").lower()
        return HelpRequest("templates" if topic == "templates" else None)
    if first[0].lower() == "history":
        return HistoryRequest()
    if first[0].lower() == "scheduled":
        return ScheduledRequest()
    if first[0].lower() in BLOCK_WORDS:
        scan.take()
        number = unwrap(scan.rest().strip())
        if not number:
            raise UsageError(f"Write the number to {first[0].lower()}: /sms {first[0].lower()} +16175551212")
        return BlockRequest(number, BLOCK_WORDS[first[0].lower()])
    if text.strip().lower() == "inbox":
        return InboxRequest()

    provider = provider_for_word(first[0], whatsapp_provider)
    if provider is not None:
        scan.take()

    recipients, contact_names = _read_mixed(scan, default_region)
    if not recipients and not contact_names:
        nxt = scan.peek()
        if nxt is None:
            return ComposeRequest(provider=provider)
        raise UsageError(f"Start with the phone number to send to; {nxt[0][:40]!r} is not a phone number.")

    name: str | None = None
    images: list[str] = []
    file_url: str | None = None
    send_at: str | None = None
    extra: dict[str, str] = {}  # --video, --template: once each
    save = False
    while (nxt := scan.peek()) is not None:
        token = nxt[0]
        if token in _DASHES:
            scan.take()
            break
        option = _option_name(token)
        if option is None:
            break
        if option not in _OPTIONS:
            if option.isalpha():
                raise UsageError(
                    f"Unknown option {token}: use --name, --image, --video, --file, --template or --at "
                    "(put -- before a message that starts with a dash)."
                )
            break
        scan.take()
        if option == "save":
            save = True
            continue
        value = scan.quoted_or_word() if option in ("name", "at") else scan.take()
        if value is None or (option != "name" and value == ","):
            raise UsageError(f"--{option} needs a value.")
        if option == "name":
            name = unwrap(value)
        elif option == "at":
            send_at = value
        elif option == "image":
            images.append(unwrap(value))
        elif option in ("video", "template"):
            if option in extra:
                raise UsageError(f"Only one --{option} per message.")
            extra[option] = unwrap(value)
        else:
            if file_url is not None:
                raise UsageError("Only one --file per message.")
            file_url = unwrap(value)

    message = scan.rest().strip()
    if not message and not images and file_url is None and not extra:
        return ComposeRequest(
            provider=provider,
            recipients=tuple(recipients),
            name=name,
            contact_names=tuple(contact_names),
            send_at=send_at,
            save=save,
        )
    return SendRequest(
        recipients=tuple(recipients),
        message=message,
        provider=provider,
        name=name,
        image_urls=tuple(images),
        file_url=file_url,
        send_at=send_at,
        template=extra.get("template"),
        video_url=extra.get("video"),
        contact_names=tuple(contact_names),
        save=save,
    )
