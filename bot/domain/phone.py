"""Phone numbers: what people type and paste, normalised to E.164 by Google's libphonenumber."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_ALLOWED_CHARS = re.compile(r"^[+\d\s().\-/]+$")


class InvalidNumber(ValueError):
    """A recipient that cannot be texted; the message says what is wrong in words a person can act on."""

    def __init__(self, number: str, reason: str) -> None:
        super().__init__(f"{number} {reason}")
        self.number = number
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid number in E.164 (`+16175551212`) with the ISO region it belongs to."""

    e164: str
    region: str | None

    def masked(self) -> str:
        """`+1617***1212`: enough to tell numbers apart in logs, not enough to text someone."""
        if len(self.e164) <= 8:
            return self.e164[:3] + "***"
        if len(self.e164) < 12:  # short numbers: keep at least three digits hidden
            return f"{self.e164[:3]}***{self.e164[-2:]}"
        return f"{self.e164[:5]}***{self.e164[-4:]}"

    def __str__(self) -> str:
        return self.e164


def mask(e164: str) -> str:
    """Mask an E.164 string the same way as `PhoneNumber.masked`."""
    return PhoneNumber(e164, None).masked()


def looks_like_number(text: str) -> bool:
    """True for text made only of the characters numbers are written with, with at least one digit."""
    return bool(_ALLOWED_CHARS.match(text)) and any(ch.isdigit() for ch in text)


_REASONS = {
    ValidationResult.TOO_SHORT: "is too short to be a phone number",
    ValidationResult.TOO_LONG: "is too long to be a phone number",
    ValidationResult.INVALID_COUNTRY_CODE: "does not start with a known country code",
    ValidationResult.INVALID_LENGTH: "has the wrong number of digits for its country",
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "does not start with a known country code",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    NumberParseException.TOO_LONG: "is too long to be a phone number",
}


def parse_number(text: str, default_region: str | None) -> PhoneNumber:
    """Parse `text` into a valid number or raise InvalidNumber naming it (see `_parse`)."""
    result = _parse_cached(text, default_region)
    if isinstance(result, InvalidNumber):
        raise InvalidNumber(result.number, result.reason)
    return result


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str, default_region: str | None) -> PhoneNumber | InvalidNumber:
    """The same number is parsed by the grammar, the draft check and the send: libphonenumber once."""
    try:
        return _parse(text, default_region)
    except InvalidNumber as exc:
        return exc


def _parse(text: str, default_region: str | None) -> PhoneNumber:
    """Parse `text` into a valid number or raise InvalidNumber naming it.

    With a leading `+` the number is international. Without one it is read in `default_region` (e.g.
    `US`) when that is set, and otherwise as digits that start with a country code, as CRMs export
    them (`16175551212`). Never both: with DEFAULT_REGION=US a mistyped `617 555 12122` must be refused,
    not read as an Australian number.
    """
    shown = " ".join(text.split())
    if not looks_like_number(shown):
        raise InvalidNumber(shown or "(empty)", "is not a phone number")
    digits = re.sub(r"\D", "", shown)
    international = shown.startswith("+") or not default_region
    candidate, region = ("+" + digits, None) if international else (shown, default_region)
    hint = ""
    if not shown.startswith("+"):
        hint = (
            f" for {default_region} (start numbers in other countries with +)"
            if default_region
            else " (write it with its country code, like +16175551212, or set DEFAULT_REGION)"
        )
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise InvalidNumber(shown, _PARSE_REASONS.get(exc.error_type, "is not a phone number") + hint) from None
    if not phonenumbers.is_valid_number(number):
        possible = phonenumbers.is_possible_number_with_reason(number)
        raise InvalidNumber(shown, _REASONS.get(possible, "is not a valid phone number") + hint)
    return PhoneNumber(
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(number),
    )
