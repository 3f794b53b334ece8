"""The Sociocs API client (the only module that calls Sociocs) and its webhook events."""

from bot.sociocs._client import (
    CancelAnswer,
    Channel,
    ScheduledAtSociocs,
    SociocsClient,
    SociocsError,
    UnrepliedMessage,
)
from bot.sociocs._contacts import Contact, ContactsError

__all__ = [
    "CancelAnswer",
    "Channel",
    "Contact",
    "ContactsError",
    "ScheduledAtSociocs",
    "SociocsClient",
    "SociocsError",
    "UnrepliedMessage",
]
