"""Phone numbers as people type and paste them: parse_number, looks_like_number and masking."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.phone import (
    DEFAULT_NUMBER_TYPES,
    NUMBER_TYPES,
    InvalidNumber,
    PhoneNumber,
    _region_and_kind,
    looks_like_number,
    mask,
    number_type,
    parse_number,
    type_refusal,
)

NEEDS_COUNTRY = (
    "has no country code: write it with + and the country code, like +1 617 555 1212, "
    "or ask an admin to set DEFAULT_REGION"
)


# --- accepted forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("+16175551212", None),
        ("0016175551212", None),
        ("00 1 617 555 1212", None),
        ("+1 (617) 555-1212", None),
        ("+1 617 555 1212", None),
        ("+1-617-555-1212", None),
        ("+1.617.555.1212", None),
        ("  +1   617\t555\n1212  ", None),
        ("(617) 555-1212", "US"),
        ("617-555-1212", "US"),
        ("6175551212", "US"),
        ("16175551212", "US"),
        ("1 (617) 555-1212", "US"),
        ("+16175551212", "GB"),
    ],
)
def test_us_number_forms(text: str, region: str | None) -> None:
    number = parse_number(text, region)
    assert number == PhoneNumber("+16175551212", "US")
    assert str(number) == "+16175551212"


@pytest.mark.parametrize(
    ("text", "region", "e164", "country"),
    [
        ("+44 20 7946 0958", None, "+442079460958", "GB"),
        ("+442079460958", None, "+442079460958", "GB"),
        ("020 7946 0958", "GB", "+442079460958", "GB"),
        ("00442079460958", None, "+442079460958", "GB"),
        ("+91 98765 43210", None, "+919876543210", "IN"),
        ("098765 43210", "IN", "+919876543210", "IN"),
        ("+49 30 12345678", None, "+493012345678", "DE"),
        ("030 12345678", "DE", "+493012345678", "DE"),
        # A foreign number written in full is read as such whatever the default region.
        ("+44 20 7946 0958", "US", "+442079460958", "GB"),
    ],
)
def test_international_numbers(text: str, region: str | None, e164: str, country: str) -> None:
    assert parse_number(text, region) == PhoneNumber(e164, country)


def test_national_form_needs_a_region() -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number("(617) 555-1212", None)
    assert info.value.number == "(617) 555-1212"
    assert info.value.reason == NEEDS_COUNTRY
    assert str(info.value) == f"(617) 555-1212 {info.value.reason}"


@pytest.mark.parametrize(
    "text",
    [
        "(323) 555-0149",  # once read as Belgian +32 3 555 01 49
        "201-555-0150",  # once read as Egyptian +20 1555 0150
        "16175551212",  # a country code without + is still a guess: 1 or a national 16…?
        "442079460958",
        "1 (617) 555-1212",
        "0 20 7946 0958",
    ],
)
def test_without_a_region_a_number_must_carry_its_country_code(text: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(text, None)
    assert info.value.number == text
    assert info.value.reason == NEEDS_COUNTRY


def test_ten_bare_digits_need_a_region() -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number("6175551212", None)
    assert info.value.number == "6175551212"
    assert "DEFAULT_REGION" in str(info.value)


# --- what is wrong, in words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "reason"),
    [
        ("+1617", None, "is too short to be a phone number"),
        ("+1 617", None, "is too short to be a phone number"),
        ("123", "US", "is too short to be a phone number for US (start numbers in other countries with +)"),
        ("+1617555121212345", None, "is too long to be a phone number"),
        ("+1 617 555 1212 2", None, "is too long to be a phone number"),
        ("0016175551212", "US", "is too long to be a phone number for US (start numbers in other countries with +)"),
        # With a default region, digits without + are read there only: a typo is refused, not sent abroad.
        ("617 555 12122", "US", "is too long to be a phone number for US (start numbers in other countries with +)"),
        ("+999 1234567", None, "does not start with a known country code"),
        ("+0 123 456 789", None, "does not start with a known country code"),
        ("+1 555 555 5555", None, "is not a valid phone number"),
    ],
)
def test_invalid_numbers_say_what_is_wrong(text: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(text, region)
    assert info.value.number == text
    assert info.value.reason == reason
    assert str(info.value) == f"{text} {reason}"


@pytest.mark.parametrize("text", ["abc", "call me", "+1 617 555 12x2", "617_555_1212", "@here", "+"])
def test_text_that_is_not_a_number(text: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(text, "US")
    assert info.value.number == text
    assert info.value.reason == "is not a phone number"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_input_is_named(text: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(text, None)
    assert str(info.value) == "(empty) is not a phone number"


def test_message_shows_whitespace_collapsed() -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number("  +1 617\n555  ", None)
    assert info.value.number == "+1 617 555"
    assert str(info.value).startswith("+1 617 555 ")


def test_invalid_number_is_a_value_error() -> None:
    assert issubclass(InvalidNumber, ValueError)


# --- number types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "kind"),
    [
        ("+16175551212", "fixed_line_or_mobile"),
        ("+16175550100", "fixed_line_or_mobile"),
        ("+447911123456", "mobile"),
        ("+442079460958", "fixed_line"),
        ("+919876543210", "mobile"),
        ("+493012345678", "fixed_line"),
        ("+19005551212", "premium_rate"),
        ("+449098790000", "premium_rate"),
        ("+18005551212", "toll_free"),
        ("+870772001799", "satellite"),
        ("+881612345678", "satellite"),
    ],
)
def test_number_types(e164: str, kind: str) -> None:
    assert number_type(e164) == kind


@pytest.mark.parametrize(
    ("text", "words", "name"),
    [
        ("+1 900 555 1212", "a premium-rate number", "premium_rate"),
        ("+44 909 879 0000", "a premium-rate number", "premium_rate"),
        ("+870 772 001 799", "a satellite or international network number", "satellite"),
        ("+1 800 555 1212", "a toll-free number", "toll_free"),
    ],
)
def test_non_personal_numbers_are_refused_by_default_naming_the_type(text: str, words: str, name: str) -> None:
    number = parse_number(text, None)
    reason = type_refusal(number, DEFAULT_NUMBER_TYPES)
    assert reason == (
        f"is {words}, which this bot does not text (an admin can allow it by adding {name} to ALLOWED_NUMBER_TYPES)"
    )
    assert type_refusal(number, DEFAULT_NUMBER_TYPES | {name}) is None


def test_the_numbers_used_in_tests_and_docs_are_allowed_by_default() -> None:
    for text in ["+16175551212", "+16175551213", "+16175550100", "+447911123456", "+442079460958", "+919876543210"]:
        assert type_refusal(parse_number(text, None), DEFAULT_NUMBER_TYPES) is None, text


def test_every_libphonenumber_type_has_a_name_and_words() -> None:
    import phonenumbers

    names = {n.lower() for n in vars(phonenumbers.PhoneNumberType) if n.isupper()}
    assert names <= NUMBER_TYPES.keys()
    assert {"mobile", "fixed_line", "fixed_line_or_mobile"} == DEFAULT_NUMBER_TYPES


# --- looks_like_number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["+16175551212", "16175551212", "+1 (617) 555-1212", "617.555.1212", "617/555/1212", "1", "+1 617\n555"],
)
def test_looks_like_number_true(text: str) -> None:
    assert looks_like_number(text) is True


@pytest.mark.parametrize("text", ["", "+", "()- ./", "hello", "+1617555121a", "2for1", "<tel:+16175551212>", "+1,617"])
def test_looks_like_number_false(text: str) -> None:
    assert looks_like_number(text) is False


# --- masking ---------------------------------------------------------------------------------------


def test_masked_keeps_prefix_and_last_four() -> None:
    assert PhoneNumber("+16175551212", "US").masked() == "+1617***1212"
    assert mask("+442079460958") == "+4420***0958"
    assert mask("+919876543210") == "+9198***3210"


def test_mask_of_short_numbers_still_hides_most_digits() -> None:
    assert mask("+2901234") == "+29***"  # Saint Helena: 8 characters
    assert mask("+50012345") == "+50***45"  # Falklands: 9 characters, never shown whole
    assert mask("+4930901820") == "+49***20"
    assert mask("+123456789012") == "+1234***9012"


def test_mask_matches_masked() -> None:
    number = parse_number("+49 30 12345678", None)
    assert mask(number.e164) == number.masked() == "+4930***5678"


@settings(max_examples=200)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_mask_always_hides_at_least_three_digits(e164: str) -> None:
    masked = mask(e164)
    assert masked.count("***") == 1
    shown = masked.replace("***", "")
    assert len(e164) - len(shown) >= 3
    head, _, tail = masked.partition("***")
    assert e164.startswith(head)
    assert e164.endswith(tail)
    if len(e164) >= 12:
        assert masked == f"{e164[:5]}***{e164[-4:]}"


# --- properties ------------------------------------------------------------------------------------

_us_subscriber = st.tuples(
    st.sampled_from(["617", "212", "415", "312", "646"]),
    st.sampled_from(["555", "253", "867", "428"]),
    st.integers(min_value=0, max_value=9999).map(lambda n: f"{n:04d}"),
)


def _formats(area: str, exchange: str, line: str) -> list[tuple[str, str | None]]:
    return [
        (f"+1{area}{exchange}{line}", None),
        (f"001{area}{exchange}{line}", None),
        (f"1{area}{exchange}{line}", "US"),
        (f"+1 ({area}) {exchange}-{line}", None),
        (f"+1 {area} {exchange} {line}", None),
        (f"({area}) {exchange}-{line}", "US"),
        (f"{area}.{exchange}.{line}", "US"),
    ]


@settings(max_examples=100)
@given(_us_subscriber)
def test_every_accepted_form_gives_the_same_e164(parts: tuple[str, str, str]) -> None:
    area, exchange, line = parts
    results = set()
    for text, region in _formats(area, exchange, line):
        try:
            results.add(parse_number(text, region).e164)
        except InvalidNumber as exc:
            results.add(f"invalid: {exc.reason}")
    assert len(results) == 1, results


@settings(max_examples=200)
@given(st.text(max_size=30), st.sampled_from([None, "US", "GB", "IN", "DE"]))
def test_parse_number_returns_e164_or_raises_invalid_number(text: str, region: str | None) -> None:
    try:
        number = parse_number(text, region)
    except InvalidNumber as exc:
        assert exc.number == (" ".join(text.split()) or "(empty)")
        assert exc.reason
        return
    assert number.e164.startswith("+")
    assert number.e164[1:].isdigit()
    assert 8 <= len(number.e164) <= 16
    # Normalising is idempotent: the E.164 form parses to itself.
    assert parse_number(number.e164, None) == number


@settings(max_examples=500)
@given(
    st.text(alphabet="0123456789 ()-./+", max_size=20)
    | st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True)
    | st.from_regex(r"\(?[2-9][0-9]{2}\)? ?[0-9]{3}-[0-9]{4}", fullmatch=True)
)
def test_nothing_without_plus_or_00_parses_without_a_region(text: str) -> None:
    if text.strip().startswith(("+", "00")):
        return
    with pytest.raises(InvalidNumber):
        parse_number(text, None)


def _library_region_and_kind(number: phonenumbers.PhoneNumber) -> tuple[str | None, str]:
    region = phonenumbers.region_code_for_number(number)
    kind = {v: n.lower() for n, v in vars(phonenumbers.PhoneNumberType).items() if n.isupper()}.get(
        phonenumbers.number_type(number), "unknown"
    )
    if kind in DEFAULT_NUMBER_TYPES and region == "001":
        kind = "satellite"
    return region, kind


def _sample_numbers() -> list[phonenumbers.PhoneNumber]:
    """Every region's example of every type, each also with a digit more and a digit less, every
    non-geographic network's examples, and +1 numbers across all area codes (the regions +1 shares)."""
    found: list[phonenumbers.PhoneNumber] = []
    types = [v for n, v in vars(phonenumbers.PhoneNumberType).items() if n.isupper()]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append(example)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.append(example)
    for area in range(200, 1000):
        found.append(phonenumbers.parse(f"+1{area}5550123"))
        found.append(phonenumbers.parse(f"+1{area}2345678"))
    variants = []
    for number in found:
        digits = str(number.national_number)
        for national in (digits + "1", digits[:-1] or "1"):
            variants.append(phonenumbers.PhoneNumber(country_code=number.country_code, national_number=int(national)))
    return found + variants


def test_region_and_type_in_one_pass_agree_with_libphonenumber() -> None:
    numbers = _sample_numbers()
    assert len(numbers) > 5000
    for number in numbers:
        assert _region_and_kind(number) == _library_region_and_kind(number), number
