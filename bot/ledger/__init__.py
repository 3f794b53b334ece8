"""The send ledger: every message is written down before Sociocs is called and updated after.

SQLite by default (no set-up), PostgreSQL for deployments with several replicas. The same tables
hold the per-user rate limit and the retry claims, so both hold across replicas.
"""

from bot.ledger._choices import ContactChoice, LostLookup
from bot.ledger._conversations import Conversation
from bot.ledger._media import MediaFiles, MediaRow
from bot.ledger._records import (
    NewSend,
    PendingMention,
    RateLimited,
    Report,
    SeenBefore,
    SendRecord,
    SendStatus,
    ThreadCustomer,
)
from bot.ledger._replies import ReplyState
from bot.ledger._schedule import ScheduledSend
from bot.ledger._store import Ledger

__all__ = [
    "ContactChoice",
    "Conversation",
    "Ledger",
    "LostLookup",
    "MediaFiles",
    "MediaRow",
    "NewSend",
    "PendingMention",
    "RateLimited",
    "ReplyState",
    "Report",
    "ScheduledSend",
    "SeenBefore",
    "SendRecord",
    "SendStatus",
    "ThreadCustomer",
]
