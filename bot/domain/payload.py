"""Mapping a draft to Sociocs `POST /message` bodies, one per recipient, as the seed page defines them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.domain.draft import Draft
from bot.domain.phone import PhoneNumber


class MessagePayload(BaseModel):
    """The body of one `POST /message`. Fields without a value are left out of the JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    channel_key: str
    to: str
    name: str | None = None
    text: str | None = None
    image_url: str | None = None
    image_urls: list[str] | None = None
    file_url: str | None = None
    schedule: str | None = None  # ISO 8601 with the sender's offset for that date: a scheduled message
    video_url: str | None = None
    template: dict[str, Any] | None = None  # a WhatsApp template: {"id": ..., "variables": {...}}
    user_id: str | None = None  # the Sociocs team member shown as the sender (#14)
    contact_saving: dict[str, Any] | None = None  # {"save": true}: save the recipient as a contact (#14)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def redacted(self) -> dict[str, Any]:
        """The body as shown to people: the channel key cut to its last four characters."""
        body = self.to_json()
        key = body["channel_key"]
        if not key.startswith("(unset"):
            body["channel_key"] = "…" + key[-4:] if len(key) > 8 else "…"
        return body


def payload_for(draft: Draft, recipient: PhoneNumber, channel_key: str) -> MessagePayload:
    """One image goes as `image_url`, several as `image_urls`, a file as `file_url`; a template as
    `template` (its media header inside it), never with `text`."""
    images = list(draft.image_urls)
    return MessagePayload(
        provider=draft.provider.value,
        channel_key=channel_key,
        to=recipient.e164,
        name=draft.name,
        text=draft.text or None,
        image_url=images[0] if len(images) == 1 else None,
        image_urls=images if len(images) > 1 else None,
        file_url=draft.file_url,
        schedule=draft.schedule.isoformat(timespec="seconds") if draft.schedule is not None else None,
        video_url=draft.video_url,
        template=draft.template.template_object() if draft.template is not None else None,
        contact_saving={"save": True} if draft.save_contact else None,
    )
