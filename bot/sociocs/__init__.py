"""The Sociocs API client (the only module that calls Sociocs) and its webhook events."""

from bot.sociocs._client import Channel, SociocsClient, SociocsError
from bot.sociocs._contacts import Contact, ContactsError

__all__ = ["Channel", "Contact", "ContactsError", "SociocsClient", "SociocsError"]
