"""Phone numbers: what people type and paste, normalised to E.164 by Google's libphonenumber."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    ValidationResult,
)
from phonenumbers.phonenumberutil import _number_type_helper

_ALLOWED_CHARS = re.compile(r"^[+\d\s().\-/]+$")


class InvalidNumber(ValueError):
    """A recipient that cannot be texted; the message says what is wrong in words a person can act on."""

    def __init__(self, number: str, reason: str) -> None:
        super().__init__(f"{number} {reason}")
        self.number = number
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid number in E.164 (`+16175551212`) with the ISO region it belongs to, and its line type
    (a name in NUMBER_TYPES) when parsing worked it out (`number_type` otherwise)."""

    e164: str
    region: str | None
    kind: str | None = field(default=None, compare=False)

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


NEEDS_COUNTRY_CODE = (
    "has no country code: write it with + and the country code, like +1 617 555 1212, "
    "or ask an admin to set DEFAULT_REGION"
)
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

    With a leading `+` (or `00`, the international prefix most of the world dials) the number is
    international. Without one it is read in `default_region` (e.g. `US`) when that is set, and
    otherwise refused: digits without a country code are a national number of some country, and
    guessing (`(323) 555-0149` read as Belgian +32…) sends a customer's message abroad. With
    DEFAULT_REGION=US a mistyped `617 555 12122` is refused too, not read as an Australian number.
    """
    shown = " ".join(text.split())
    if not looks_like_number(shown):
        raise InvalidNumber(shown or "(empty)", "is not a phone number")
    digits = re.sub(r"\D", "", shown)
    if shown.startswith("+"):
        candidate, region, hint = "+" + digits, None, ""
    elif default_region:
        candidate, region = shown, default_region
        hint = f" for {default_region} (start numbers in other countries with +)"
    elif shown.startswith("00"):
        candidate, region, hint = "+" + digits[2:], None, ""
    else:
        raise InvalidNumber(shown, NEEDS_COUNTRY_CODE)
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise InvalidNumber(shown, _PARSE_REASONS.get(exc.error_type, "is not a phone number") + hint) from None
    # Valid means of a known type (libphonenumber's is_valid_number is exactly that test, made again
    # by number_type): the type is worked out once here and kept on the number for `type_refusal`.
    region, kind = _region_and_kind(number)
    if kind == "unknown":
        possible = phonenumbers.is_possible_number_with_reason(number)
        raise InvalidNumber(shown, _REASONS.get(possible, "is not a valid phone number") + hint)
    return PhoneNumber(phonenumbers.format_number(number, PhoneNumberFormat.E164), region, kind)


# --- number types ------------------------------------------------------------------------------------

# The names ALLOWED_NUMBER_TYPES takes: libphonenumber's PhoneNumberType in lower case, plus
# `satellite` (libphonenumber calls Inmarsat's +870 and the other non-geographic networks "mobile"),
# each with the plain words a person is told when a number of that type is refused.
NUMBER_TYPES: dict[str, str] = {
    "mobile": "a mobile number",
    "fixed_line": "a landline number",
    "fixed_line_or_mobile": "a landline or mobile number",
    "toll_free": "a toll-free number",
    "premium_rate": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "voip": "an internet (VoIP) number",
    "personal_number": "a personal forwarding number",
    "pager": "a pager number",
    "uan": "a company switchboard number (UAN)",
    "voicemail": "a voicemail access number",
    "satellite": "a satellite or international network number",
    "unknown": "a number of unknown type",
}
DEFAULT_NUMBER_TYPES = frozenset({"mobile", "fixed_line", "fixed_line_or_mobile"})
_TYPE_NAMES = {
    value: name.lower()
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
_NON_GEOGRAPHIC = "001"  # libphonenumber's region for +800, +808, +870, +881, +882, +883, +979


def _region_and_kind(number: phonenumbers.PhoneNumber) -> tuple[str | None, str]:
    """libphonenumber's region_code_for_number and number_type's name ("unknown" when invalid), in one pass.

    For a country code several regions share (+1: US, CA and 23 more) the region search already tests
    the number's type in each region it tries; calling region_code_for_number, then number_type (which
    searches again and tests once more), made three tests where one does: a `/sms` to a new +1 number
    parsed in 40 µs, now 32. Uses libphonenumber's private `_number_type_helper`; tests/test_phone.py
    checks the answers equal the library's two calls on some 9,000 numbers of every region and type.
    """
    code = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code) if code is not None else None
    if code is None or regions is None:
        return None, "unknown"
    national = phonenumbers.national_significant_number(number)
    region: str | None = None
    found: int | None = None
    if len(regions) == 1:
        region = regions[0]
    else:
        for candidate in regions:
            metadata = PhoneMetadata.metadata_for_region(candidate.upper(), None)
            if metadata is None:
                continue
            if metadata.leading_digits is not None:
                if re.match(metadata.leading_digits, national):
                    region = candidate
                    break
            else:
                tested = _number_type_helper(national, metadata)
                if tested != phonenumbers.PhoneNumberType.UNKNOWN:
                    region, found = candidate, tested
                    break
        else:
            return None, "unknown"
    if found is None:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        found = phonenumbers.PhoneNumberType.UNKNOWN if metadata is None else _number_type_helper(national, metadata)
    kind = _TYPE_NAMES.get(found, "unknown")
    if kind in DEFAULT_NUMBER_TYPES and region == _NON_GEOGRAPHIC:
        return region, "satellite"
    return region, kind


@functools.lru_cache(maxsize=4096)
def number_type(e164: str) -> str:
    """The kind of line a valid E.164 number is, as one of the names in NUMBER_TYPES."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return "unknown"
    return _region_and_kind(number)[1]


def type_refusal(number: PhoneNumber, allowed: frozenset[str]) -> str | None:
    """Why `number` may not be texted given the ALLOWED_NUMBER_TYPES `allowed`, or None when it may."""
    kind = number.kind or number_type(number.e164)
    if kind in allowed:
        return None
    return (
        f"is {NUMBER_TYPES[kind]}, which this bot does not text "
        f"(an admin can allow it by adding {kind} to ALLOWED_NUMBER_TYPES)"
    )
