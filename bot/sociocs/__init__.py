"""The Sociocs API client (the only module that calls Sociocs) and its webhook events."""

from bot.sociocs._client import CancelAnswer, Channel, ScheduledAtSociocs, SociocsClient, SociocsError

__all__ = ["CancelAnswer", "Channel", "ScheduledAtSociocs", "SociocsClient", "SociocsError"]
