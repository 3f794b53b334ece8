"""The Sociocs API client (the only module that calls Sociocs) and its webhook events."""

from bot.sociocs._client import Channel, SociocsClient, SociocsError, UnrepliedMessage

__all__ = ["Channel", "SociocsClient", "SociocsError", "UnrepliedMessage"]
