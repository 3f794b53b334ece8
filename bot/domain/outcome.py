"""What happened to one message, and what the person can do about it.

Only a Sociocs answer carrying a message id is a success. Anything that may have reached Sociocs
without a clear answer (a timeout, a 5xx, an unreadable reply) is UNKNOWN, never success or failure,
because the message may have gone out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Delivery statuses (from Sociocs' status webhooks) that mean the message did not reach the customer.
UNDELIVERED = ("failed", "undelivered")


class OutcomeKind(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    message_id: str | None = None
    error: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    # True only when the message provably did not go out and may be sent again automatically:
    # the connection was never made, or Sociocs answered 429.
    retryable: bool = False
    hint: str | None = None  # overrides the advice by status, where the cause is known better

    @classmethod
    def sent(cls, message_id: str) -> Outcome:
        return cls(OutcomeKind.SENT, message_id=message_id)

    @classmethod
    def failed(
        cls,
        error: str,
        http_status: int | None = None,
        retry_after: float | None = None,
        *,
        retryable: bool = False,
        hint: str | None = None,
    ) -> Outcome:
        return cls(
            OutcomeKind.FAILED,
            error=error,
            http_status=http_status,
            retry_after=retry_after,
            retryable=retryable,
            hint=hint,
        )

    @classmethod
    def unknown(cls, error: str, http_status: int | None = None) -> Outcome:
        return cls(OutcomeKind.UNKNOWN, error=error, http_status=http_status)

    @classmethod
    def dry_run(cls) -> Outcome:
        return cls(OutcomeKind.DRY_RUN)

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SENT

    def advice(self) -> str | None:
        """The next step for the person, by the class of failure."""
        if self.hint is not None:
            return self.hint
        if self.kind is OutcomeKind.UNKNOWN:
            return "The message may or may not have been sent: check Sociocs before resending."
        if self.kind is not OutcomeKind.FAILED:
            return None
        status = self.http_status
        if status == 401:
            return "The Sociocs API key was refused: tell an admin to check SOCIOCS_API_KEY."
        if status == 429:
            return "Sociocs is rate limiting: try again shortly."
        if status == 400:
            return "Sociocs refused the message as written: fix what it says and send again."
        if status == 404:
            return "The Sociocs endpoint was not found: tell an admin to check SOCIOCS_BASE_URL."
        if status is None:
            return "The bot could not reach Sociocs, so nothing was sent: try again, or tell an admin if it persists."
        return "Nothing was sent: try again, or tell an admin if it persists."
