"""A draft kept for later (a contact choice held in the ledger) and read back: every field but the
recipients, as JSON. Pure: no Slack, no ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.draft import RawDraft
from bot.domain.providers import Provider
from bot.domain.schedule import zone_named


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
