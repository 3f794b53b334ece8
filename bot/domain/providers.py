"""Sociocs providers and the words people use for them."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    """A Sociocs channel type; the value is the code Sociocs expects in `provider`."""

    TWLO = "twlo"
    TWLOWA = "twlowa"
    GSWA = "gswa"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_sms(self) -> bool:
        return self is Provider.TWLO

    @property
    def channel_key_setting(self) -> str:
        """The environment variable that holds this provider's channel key."""
        return f"SOCIOCS_CHANNEL_KEY_{self.value.upper()}"

    @property
    def max_text_length(self) -> int:
        """Longest text the provider takes in one message (Twilio SMS: 1600; WhatsApp: 4096)."""
        return 1600 if self.is_sms else 4096


_LABELS = {
    Provider.TWLO: "SMS (Twilio)",
    Provider.TWLOWA: "WhatsApp (Twilio)",
    Provider.GSWA: "WhatsApp (Gupshup)",
}

# Order of preference wherever "the first configured provider" is meant.
PROVIDER_ORDER: tuple[Provider, ...] = (Provider.TWLO, Provider.TWLOWA, Provider.GSWA)

WHATSAPP_WORDS = frozenset({"whatsapp", "wa"})
_DIRECT_WORDS = {"sms": Provider.TWLO, "twlo": Provider.TWLO, "twlowa": Provider.TWLOWA, "gswa": Provider.GSWA}


def provider_for_word(word: str, whatsapp_provider: Provider) -> Provider | None:
    """Map a keyword typed by a person (case-insensitive) to a provider, or None if it is not one."""
    lowered = word.lower()
    if lowered in WHATSAPP_WORDS:
        return whatsapp_provider
    return _DIRECT_WORDS.get(lowered)
