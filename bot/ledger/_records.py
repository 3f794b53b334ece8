"""What the ledger stores, as plain typed records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SendStatus(StrEnum):
    QUEUED = "queued"  # accepted, Sociocs not called yet: provably not sent
    PENDING = "pending"  # Sociocs is being called
    SENT = "sent"
    FAILED = "failed"  # provably not sent, or refused by Sociocs
    UNKNOWN = "unknown"  # may or may not have been sent
    DRY_RUN = "dry_run"
    SCHEDULED = "scheduled"  # Sociocs took it with a schedule: it goes out later, unless cancelled
    CANCELLED = "cancelled"  # a scheduled message cancelled before its time: never sent


RETRYABLE = (SendStatus.FAILED, SendStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class NewSend:
    """One message to one recipient, as accepted from a person."""

    team_id: str | None
    user_id: str | None
    channel_id: str | None
    provider: str
    channel_key: str
    recipient: str
    name: str | None
    text: str
    image_urls: tuple[str, ...] = ()
    file_url: str | None = None
    via: str = ""
    video_url: str | None = None
    template: dict[str, Any] | None = None  # a WhatsApp template use, as TemplateUse.to_record() gives it
    save_contact: bool = False  # --save: Sociocs saves the recipient as a contact (kept for a Retry)


@dataclass(frozen=True, slots=True)
class SendRecord:
    id: str
    created_at: datetime
    updated_at: datetime
    team_id: str | None
    user_id: str | None
    channel_id: str | None
    thread_ts: str | None
    summary_ts: str | None
    provider: str
    channel_key: str
    recipient: str
    name: str | None
    text: str
    image_urls: tuple[str, ...]
    file_url: str | None
    status: SendStatus
    message_id: str | None
    error: str | None
    http_status: int | None
    attempts: int
    via: str
    retried_by: str | None = None
    delivery_status: str | None = None
    delivery_error: str | None = None
    schedule: datetime | None = None  # send later: when, in the sender's zone (where the query joins it)
    video_url: str | None = None
    template: dict[str, Any] | None = None
    save_contact: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """Where a send is reported in Slack."""

    channel_id: str
    thread_ts: str | None
    summary_ts: str | None


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The person has sent their allowance for this minute."""

    limit: int
    wait_seconds: int


@dataclass(frozen=True, slots=True)
class SeenBefore:
    """The request that asked for the reservation was seen before (a replay): nothing was recorded."""

    key: str


@dataclass(frozen=True, slots=True)
class ThreadCustomer:
    """A customer a Slack thread belongs to."""

    provider: str
    channel_key: str
    number: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PendingMention:
    """A mention waiting for its author to choose which of the thread's customers gets it."""

    id: str
    created_at: datetime
    user_id: str
    team_id: str | None
    channel_id: str
    thread_ts: str
    text: str
    customers: tuple[ThreadCustomer, ...]
    decision: str | None


def record_from_row(row: Any) -> SendRecord:
    """A `sends` row as a SendRecord."""
    media = json.loads(row.media or "{}")
    return SendRecord(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        team_id=row.team_id,
        user_id=row.user_id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        summary_ts=row.summary_ts,
        provider=row.provider,
        channel_key=row.channel_key,
        recipient=row.recipient,
        name=row.name,
        text=row.text,
        image_urls=tuple(media.get("image_urls") or ()),
        file_url=media.get("file_url"),
        status=SendStatus(row.status),
        message_id=row.message_id,
        error=row.error,
        http_status=row.http_status,
        attempts=row.attempts,
        via=row.via,
        retried_by=row.retried_by,
        delivery_status=row.delivery_status,
        delivery_error=row.delivery_error,
        video_url=media.get("video_url"),
        template=media.get("template"),
        save_contact=bool(media.get("contact_saving")),
    )
