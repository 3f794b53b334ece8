"""Slack files sent to customers: which are acceptable, how their public links are signed, where they
may be downloaded from. Pure rules; the downloading and storing live in `bot.slack.media` and the ledger.

A re-hosted file is reached at `PUBLIC_URL/media/{token}`, where the token is a random id and an HMAC of
it: a guessed or altered token is refused before the database is asked, and the random id alone is
unguessable (128 bits) even to someone who saw other links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

MAX_MEDIA_BYTES = 5 * 1024 * 1024  # Twilio's MMS limit per image; the same cap for a PDF
MAX_ATTACHMENTS = 10  # Slack's file_input takes at most 10, and an MMS at most 10 media
DEFAULT_TTL_SECONDS = 86400

Kind = Literal["image", "file"]
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
FILE_TYPES = {"application/pdf": "PDF"}
ACCEPTED_TYPES = {**IMAGE_TYPES, **FILE_TYPES}
FILETYPES = ["jpg", "jpeg", "png", "gif", "pdf"]  # the file_input's accepted extensions (a hint to Slack's picker)

# Slack's own file hosts (files.slack.com and its siblings, GovSlack's too); anything else never gets the token.
_SLACK_FILE_HOST = re.compile(r"^files(?:-[a-z0-9]+)*\.slack(?:-gov)?\.com$")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A Slack file someone chose to send, as the interaction described it (before `files.info`)."""

    file_id: str
    name: str = ""
    mimetype: str | None = None
    size: int | None = None

    @property
    def kind(self) -> Kind:
        return "file" if self.mimetype in FILE_TYPES else "image"

    @classmethod
    def from_slack(cls, file: Mapping[str, Any]) -> Attachment | None:
        """From a Slack file object (a message's `files`, a file_input's value); None without an id."""
        file_id = file.get("id")
        if not isinstance(file_id, str) or not re.fullmatch(r"F[A-Z0-9]{2,31}", file_id):
            return None
        size = file.get("size")
        return cls(
            file_id=file_id,
            name=str(file.get("name") or file.get("title") or file_id)[:200],
            mimetype=str(file["mimetype"]).lower() if file.get("mimetype") else None,
            size=size if isinstance(size, int) else None,
        )


class MediaRefused(ValueError):
    """A file that cannot be sent; the message says which and why, in words for the sender."""


def type_problem(name: str, mimetype: str | None, size: int | None) -> str | None:
    """Why the file cannot go by MMS (wrong type, too large), or None. Unknown values are checked later."""
    if mimetype is not None and mimetype not in ACCEPTED_TYPES:
        return f"{name} is not a JPEG, PNG or GIF image or a PDF, so it cannot be sent."
    if size is not None and size > MAX_MEDIA_BYTES:
        return f"{name} is {size / 1048576:.1f} MB: files sent to customers may be at most 5 MB."
    return None


def attachment_problems(attachments: Sequence[Attachment], *, file_links: int, image_links: int) -> list[str]:
    """Everything wrong with a set of attachments beside the links typed in the form."""
    problems = [p for a in attachments if (p := type_problem(a.name, a.mimetype, a.size)) is not None]
    pdfs = sum(1 for a in attachments if a.kind == "file")
    if pdfs + file_links > 1:
        problems.append("Only one file (PDF) can be sent with a message.")
    images = len(attachments) - pdfs + image_links
    if images > MAX_ATTACHMENTS:
        problems.append(f"{images} images is too many: at most {MAX_ATTACHMENTS}.")
    return problems


def sniff(content: bytes) -> str | None:
    """The content type the bytes really are (by their first bytes), among those accepted; None otherwise."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def may_fetch(url: str, api_url: str) -> bool:
    """Whether the bot token may be sent to `url`: https on one of Slack's file hosts, or the exact
    host and port of SLACK_API_URL (GovSlack, tests). Nothing else ever sees the token."""
    try:
        parts, api = urlsplit(url), urlsplit(api_url)
        port, api_port = parts.port, api.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        return False
    if parts.scheme == "https" and _SLACK_FILE_HOST.match(host) and port in (None, 443):
        return True
    return (
        parts.scheme == api.scheme
        and host == (api.hostname or "").lower()
        and (port or _default_port(parts.scheme)) == (api_port or _default_port(api.scheme))
    )


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# Tokens ------------------------------------------------------------------------------------------------


def media_key(secret: str) -> bytes:
    """The signing key for media links, derived from a secret every replica shares (the bot token):
    the secret itself is never used directly, nor shown."""
    return hmac.new(secret.encode("utf-8"), b"sociocs-bot media links v1", hashlib.sha256).digest()


def _mac(key: bytes, media_id: str) -> str:
    digest = hmac.new(key, media_id.encode("ascii"), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def new_token(key: bytes) -> tuple[str, str]:
    """(media id, token): the id is what the store keys on, the token what goes in the link."""
    media_id = secrets.token_hex(16)
    return media_id, f"{media_id}.{_mac(key, media_id)}"


def token_id(key: bytes, token: str) -> str | None:
    """The media id of a genuine token, or None (malformed or tampered), compared in constant time."""
    media_id, dot, mac = token.partition(".")
    if not dot or not re.fullmatch(r"[0-9a-f]{32}", media_id) or len(mac) != 24:
        return None
    return media_id if hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, media_id).encode()) else None


def media_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/media/{token}"


def message_attachments(files: Any) -> tuple[list[Attachment], list[str]]:
    """A message's files split into those that may be offered as attachments (at most 10) and notes
    on those that may not (wrong type, too large, one PDF too many)."""
    offered: list[Attachment] = []
    notes: list[str] = []
    for file in files if isinstance(files, list) else []:
        attachment = Attachment.from_slack(file) if isinstance(file, dict) else None
        if attachment is None:
            continue
        problem = type_problem(attachment.name, attachment.mimetype, attachment.size)
        if problem is None and attachment.kind == "file" and any(a.kind == "file" for a in offered):
            problem = f"{attachment.name}: only one PDF can be sent with a message."
        if problem is None and len(offered) >= MAX_ATTACHMENTS:
            problem = f"{attachment.name}: at most {MAX_ATTACHMENTS} attachments."
        if problem is None:
            offered.append(attachment)
        else:
            notes.append(problem)
    return offered, notes
