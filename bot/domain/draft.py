"""Drafts: what a person asked to send, checked before anything leaves the building.

Every entry point (slash command, modal, shortcuts) fills a `RawDraft` with the strings the person
typed and calls `make_draft`. Problems are keyed by field, and the field names are the modal's block
ids, so the same checks serve an inline form error and a reply to a command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from bot.domain.phone import DEFAULT_NUMBER_TYPES, InvalidNumber, PhoneNumber, parse_number, type_refusal
from bot.domain.providers import Provider
from bot.domain.templates import EMPTY, Catalogue, TemplateRefused, TemplateUse, media_refusal, resolve

Field = Literal[
    "provider", "to", "name", "text", "images", "file", "destination", "attachments", "send_at", "template", "video"
]

MAX_IMAGES = 10  # Twilio's limit of media per MMS
MAX_NAME_LENGTH = 100
MAX_URL_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the person must fix, in words they can act on."""

    field: Field
    message: str


class DraftError(ValueError):
    """The draft cannot be sent; `problems` says why, field by field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)

    def by_field(self) -> dict[str, str]:
        """One message per field (joined when a field has several), for inline form errors."""
        merged: dict[str, str] = {}
        for problem in self.problems:
            merged[problem.field] = (
                f"{merged[problem.field]} {problem.message}" if problem.field in merged else problem.message
            )
        return merged


@dataclass(frozen=True, slots=True)
class Rules:
    """What the deployment allows: built from the settings, passed to `make_draft`."""

    channel_keys: Mapping[Provider, str]
    default_provider: Provider | None
    default_region: str | None = None
    max_recipients: int = 10
    dry_run: bool = False
    allowed_number_types: frozenset[str] = DEFAULT_NUMBER_TYPES
    templates: Catalogue = EMPTY

    def number_problem(self, number: PhoneNumber) -> Problem | None:
        """Why `number` may not be texted here (its type is not in ALLOWED_NUMBER_TYPES), or None."""
        reason = type_refusal(number, self.allowed_number_types)
        return None if reason is None else Problem("to", f"{number.e164} {reason}.")

    def channel_key(self, provider: Provider) -> str | None:
        return self.channel_keys.get(provider)

    def provider_problem(self, provider: Provider | None) -> Problem | None:
        """Why `provider` (or the default, when None) cannot be used here, or None if it can."""
        chosen = provider or self.default_provider
        if chosen is None:
            return Problem(
                "provider", "No Sociocs channel is configured: set SOCIOCS_CHANNEL_KEY_TWLO, _TWLOWA or _GSWA."
            )
        if self.channel_key(chosen) is None and not self.dry_run:
            return Problem(
                "provider", f"{chosen.label} is not set up here: an admin must set {chosen.channel_key_setting}."
            )
        return None


@dataclass(frozen=True, slots=True)
class RawDraft:
    """The strings a person typed, before any checking. Text is already free of Slack markup."""

    recipients: Sequence[str]
    text: str = ""
    provider: Provider | None = None
    name: str | None = None
    image_urls: Sequence[str] = ()
    file_url: str | None = None
    send_at: datetime | None = None  # send later: already read and checked (`bot.domain.schedule`), aware
    template: str | None = None  # a catalogue template's name; its values below, the text unused
    template_values: Sequence[str] = ()
    video_url: str | None = None
    save_contact: bool = False  # --save / the form's checkbox: Sociocs saves the recipient (#14)


@dataclass(frozen=True, slots=True)
class Draft:
    """A message ready to send to every recipient, identical in content for each."""

    provider: Provider
    recipients: tuple[PhoneNumber, ...]
    text: str = ""
    name: str | None = None
    image_urls: tuple[str, ...] = field(default_factory=tuple)
    file_url: str | None = None
    schedule: datetime | None = None  # send later at this time (aware, in the sender's zone)
    template: TemplateUse | None = None
    video_url: str | None = None
    save_contact: bool = False


def check_url(text: str) -> str:
    """Return the URL if it is an absolute http(s) URL a provider could fetch; raise ValueError otherwise."""
    url = text.strip()
    if not url:
        raise ValueError("is empty")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("is not an http(s) link")
    if not parts.hostname or any(ch.isspace() for ch in url):
        raise ValueError("is not a complete link")
    return url


def make_draft(raw: RawDraft, rules: Rules) -> Draft:
    """Check everything the person typed and return a sendable Draft, or raise DraftError listing all problems."""
    problems: list[Problem] = []

    provider = raw.provider or rules.default_provider
    problem = rules.provider_problem(raw.provider)
    if problem is not None:
        problems.append(problem)

    recipients: list[PhoneNumber] = []
    seen: set[PhoneNumber] = set()  # a number typed twice is texted once (a list's `in` is quadratic: #18)
    entries = [r.strip() for r in raw.recipients if r.strip()]
    if not entries:
        problems.append(Problem("to", "Add at least one phone number to send to."))
    elif len(entries) > rules.max_recipients:
        problems.append(
            Problem("to", f"{len(entries)} recipients is too many: at most {rules.max_recipients} per message.")
        )
    else:
        for entry in entries:
            try:
                number = parse_number(entry, rules.default_region)
            except InvalidNumber as exc:
                problems.append(Problem("to", f"{exc.number} {exc.reason}."))
                continue
            refused = rules.number_problem(number)
            if refused is not None:
                if refused not in problems:
                    problems.append(refused)
                continue
            if number not in seen:
                seen.add(number)
                recipients.append(number)

    name = " ".join((raw.name or "").split()) or None
    if name and len(name) > MAX_NAME_LENGTH:
        problems.append(Problem("name", f"The name is longer than {MAX_NAME_LENGTH} characters."))

    text = raw.text.strip()
    if provider is not None and len(text) > provider.max_text_length:
        problems.append(
            Problem(
                "text",
                f"The message is {len(text)} characters; {provider.label} takes at most {provider.max_text_length}.",
            )
        )

    images: list[str] = []
    image_entries = [u.strip() for u in raw.image_urls if u.strip()]
    if len(image_entries) > MAX_IMAGES:
        problems.append(Problem("images", f"{len(image_entries)} images is too many: at most {MAX_IMAGES}."))
    for entry in image_entries:
        try:
            images.append(check_url(entry))
        except ValueError as exc:
            problems.append(Problem("images", f"The image {entry} {exc}."))

    file_url: str | None = None
    if raw.file_url and raw.file_url.strip():
        try:
            file_url = check_url(raw.file_url)
        except ValueError as exc:
            problems.append(Problem("file", f"The file {raw.file_url.strip()} {exc}."))

    video_url: str | None = None
    if raw.video_url and raw.video_url.strip():
        try:
            video_url = check_url(raw.video_url)
        except ValueError as exc:
            problems.append(Problem("video", f"The video {raw.video_url.strip()} {exc}."))

    template, whatsapp_problems = _whatsapp(raw, provider, rules, images, text)
    problems += whatsapp_problems
    if template is not None and template.media_url is not None:
        images = []  # the image is the template's media header, sent inside `template`

    has_media = image_entries or (raw.file_url and raw.file_url.strip()) or (raw.video_url and raw.video_url.strip())
    if not text and not has_media and raw.template is None:
        problems.append(Problem("text", "Nothing to send: write a message, or add an image or a file."))

    if problems or provider is None:
        raise DraftError(problems)
    return Draft(
        provider=provider,
        recipients=tuple(recipients),
        text=text,
        name=name,
        image_urls=tuple(dict.fromkeys(images)),
        file_url=file_url,
        schedule=raw.send_at,
        template=template,
        video_url=video_url,
        save_contact=raw.save_contact,
    )


def _whatsapp(
    raw: RawDraft, provider: Provider | None, rules: Rules, images: list[str], text: str
) -> tuple[TemplateUse | None, list[Problem]]:
    """What each provider accepts: a template only on WhatsApp, media only on SMS (a gswa template's
    media header aside). Returns the resolved template and the problems."""
    problems: list[Problem] = []
    template: TemplateUse | None = None
    if provider is None or rules.provider_problem(raw.provider) is not None:
        return None, problems  # the provider itself is refused: its rules do not matter yet
    if raw.template is not None:
        if text:
            problems.append(Problem("text", "With a template, WhatsApp sends its approved text: give only its values."))
        try:
            template = resolve(rules.templates, provider, raw.template, raw.template_values, images)
        except TemplateRefused as exc:
            problems.append(Problem(exc.field, exc.message))
    if provider.is_sms:
        return template, problems
    if any(u.strip() for u in raw.image_urls) and raw.template is None:
        problems.append(Problem("images", media_refusal(provider, "images")))
    if raw.video_url and raw.video_url.strip():
        problems.append(Problem("video", media_refusal(provider, "videos")))
    if raw.file_url and raw.file_url.strip():
        problems.append(Problem("file", media_refusal(provider, "files")))
    return template, problems
