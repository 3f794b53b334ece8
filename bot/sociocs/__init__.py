"""The Sociocs API client: the only module that talks HTTP to Sociocs."""

from bot.sociocs._client import Channel, SociocsClient, SociocsError

__all__ = ["Channel", "SociocsClient", "SociocsError"]
