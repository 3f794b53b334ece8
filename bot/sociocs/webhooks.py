"""Sociocs webhooks: the signature, and the two events the bot understands, as typed models."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SIGNATURE_HEADER = "X-Sociocs-Signature"


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body with the subscription's secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of `X-Sociocs-Signature`; a missing header is simply wrong."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip().lower())


# The event models' validators are built when first needed (defer_build), not at import: a bot without
# SOCIOCS_WEBHOOK_SECRET has no endpoint and never receives an event, and building them cost about 12 ms
# of its start-up. A bot with the endpoint builds them at start-up (build_event_models, called when the
# route is made), so its first event costs what every other one does.


class EventError(ValueError):
    """A body that is not an event the bot handles; the message says why (for the 4xx answer)."""


class StatusError(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)
    code: str | None = None
    message: str | None = None


class StatusData(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    status: str = Field(min_length=1, max_length=32)
    error: StatusError | None = None


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)
    event: Literal["status_update"]
    message_id: str = Field(min_length=1, max_length=128)
    event_data: StatusData


class Contact(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    name: str | None = None


class IncomingMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)
    event: Literal["message"]
    message_id: str = Field(min_length=1, max_length=128)
    provider: str
    channel_key: str
    direction: str = "incoming"
    from_: str = Field(alias="from", min_length=4, max_length=20)
    to: str | None = None
    name: str | None = None
    text: str | None = None
    image_urls: list[str] = Field(default_factory=list)
    file_urls: list[str] = Field(default_factory=list)
    video_urls: list[str] = Field(default_factory=list)
    contact: Contact | None = None
    timestamp: int | None = None

    @property
    def number(self) -> str:
        digits = "".join(ch for ch in self.from_ if ch.isdigit())
        return "+" + digits

    @property
    def sender_name(self) -> str | None:
        return (self.contact.name if self.contact and self.contact.name else None) or self.name or None


Event = StatusUpdate | IncomingMessage


def build_event_models() -> None:
    """Build the events' validators now: a bot that receives webhooks does it at start-up."""
    for model in (StatusError, StatusData, StatusUpdate, Contact, IncomingMessage):
        model.model_rebuild()


def parse_event(body: Any) -> Event:
    """The event in a decoded JSON body; EventError for anything else."""
    if not isinstance(body, dict):
        raise EventError("the body is not a JSON object")
    kind = body.get("event")
    try:
        if kind == "status_update":
            return StatusUpdate.model_validate(body)
        if kind == "message":
            message = IncomingMessage.model_validate(body)
            if message.direction != "incoming":
                raise EventError("only incoming messages are handled")
            return message
    except ValidationError as exc:
        first = exc.errors()[0]
        raise EventError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    raise EventError(f"unknown event {kind!r}")
