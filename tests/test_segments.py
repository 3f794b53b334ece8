"""SMS segments: GSM-7 and UCS-2 encodings, per-segment limits and what never splits."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.segments import _GSM_BASIC, _GSM_EXTENDED, Encoding, SegmentInfo, count_segments

GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2


def test_empty_text() -> None:
    assert count_segments("") == SegmentInfo(GSM7, 0, 0, 160, ())


def test_short_gsm_text() -> None:
    info = count_segments("Your order is ready")
    assert info == SegmentInfo(GSM7, 19, 1, 160, ())
    assert info.describe() == "1 segment, GSM-7 (19/160)"


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [
        (1, 1, 160),
        (159, 1, 160),
        (160, 1, 160),
        (161, 2, 153),
        (305, 2, 153),
        (306, 2, 153),
        (307, 3, 153),
        (459, 3, 153),
        (460, 4, 153),
        (1600, 11, 153),
    ],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert count_segments("a" * length) == SegmentInfo(GSM7, length, segments, per_segment, ())


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 70), (69, 1, 70), (70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67), (201, 3, 67), (202, 4, 67)],
)
def test_ucs2_boundaries(length: int, segments: int, per_segment: int) -> None:
    text = "ê" + "a" * (length - 1)  # ê is not in GSM 03.38
    assert count_segments(text) == SegmentInfo(UCS2, length, segments, per_segment, ("ê",))


def test_describe_plural_and_capacity() -> None:
    assert count_segments("a" * 161).describe() == "2 segments, GSM-7 (161/306)"
    assert count_segments("ê" * 71).describe() == "2 segments, UCS-2 (71/134)"
    assert count_segments("ê").describe() == "1 segment, UCS-2 (1/70)"


@pytest.mark.parametrize("ch", [*"^{}\\[~]|€", "\f"])
def test_extension_characters_count_twice(ch: str) -> None:
    assert count_segments(ch) == SegmentInfo(GSM7, 2, 1, 160, ())
    assert count_segments(ch * 80) == SegmentInfo(GSM7, 160, 1, 160, ())
    assert count_segments(ch * 81).segments == 2
    assert count_segments(ch * 81).units == 162


def test_extension_character_pushes_over_one_segment() -> None:
    assert count_segments("a" * 159 + "€").units == 161
    assert count_segments("a" * 159 + "€").segments == 2
    assert count_segments("a" * 158 + "€").segments == 1


def test_escape_pair_is_not_split_across_segments() -> None:
    # 152 + 2 + 152 = 306 septets fit two segments of 153 only if the € could be split.
    info = count_segments("a" * 152 + "€" + "a" * 152)
    assert info.units == 306
    assert info.segments == 3
    assert info.per_segment == 153
    # Moved by one, the pair sits inside the first segment and two segments are enough.
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


@pytest.mark.parametrize("ch", [*"@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", "\n", "\r", " "])
def test_basic_gsm_characters_count_once(ch: str) -> None:
    assert count_segments(ch) == SegmentInfo(GSM7, 1, 1, 160, ())


@pytest.mark.parametrize("ch", ["ê", "ç", "á", "’", "“", "—", "…", "€\u0301", "中", "й", "\t"])
def test_non_gsm_characters_force_ucs2(ch: str) -> None:
    info = count_segments("Hello " + ch)
    assert info.encoding is UCS2
    assert info.per_segment == 70
    assert ch[-1] in info.non_gsm_chars or ch in info.non_gsm_chars


def test_one_emoji_forces_ucs2_and_is_listed() -> None:
    text = "a" * 100 + "😀"
    info = count_segments(text)
    assert info.encoding is UCS2
    assert info.non_gsm_chars == ("😀",)
    # The emoji is two UTF-16 code units.
    assert info.units == 102
    assert info.segments == 2
    assert info.per_segment == 67


def test_non_gsm_chars_are_unique_and_in_order() -> None:
    info = count_segments("😀 ☃ é ê 😀 ☃ ç")
    assert info.non_gsm_chars == ("😀", "☃", "ê", "ç")


def test_emoji_are_two_units_each() -> None:
    assert count_segments("😀" * 35) == SegmentInfo(UCS2, 70, 1, 70, ("😀",))
    assert count_segments("😀" * 36) == SegmentInfo(UCS2, 72, 2, 67, ("😀",))


def test_surrogate_pair_is_not_split_across_segments() -> None:
    # 66 + 2 + 66 = 134 units would be two segments of 67 if the emoji could be split.
    info = count_segments("a" * 66 + "😀" + "a" * 66)
    assert info.units == 134
    assert info.segments == 3
    # 65 + 2 puts the emoji wholly inside the first segment.
    assert count_segments("a" * 65 + "😀" + "a" * 67).segments == 2


def test_boundary_with_emoji_at_the_end() -> None:
    assert count_segments("a" * 68 + "😀").segments == 1
    assert count_segments("a" * 69 + "😀").segments == 2


def test_gsm_tables_have_the_standard_sizes() -> None:
    # 128 positions, one of them (0x1B) the escape to the extension table.
    assert len(_GSM_BASIC) == 127
    assert len(set(_GSM_BASIC)) == 127
    assert len(_GSM_EXTENDED) == 10


# --- properties ------------------------------------------------------------------------------------

_gsm_text = st.text(alphabet=st.sampled_from(_GSM_BASIC + _GSM_EXTENDED), max_size=700)


@settings(max_examples=200)
@given(_gsm_text)
def test_gsm_text_units_and_segments(text: str) -> None:
    info = count_segments(text)
    assert info.encoding is GSM7
    assert info.non_gsm_chars == ()
    assert info.units == len(text) + sum(ch in _GSM_EXTENDED for ch in text)
    if info.units <= 160:
        assert info.segments == (1 if text else 0)
        assert info.per_segment == 160
    else:
        assert info.per_segment == 153
        # Never fewer than a plain division, and at most one extra per escape pair on a boundary.
        assert info.segments >= math.ceil(info.units / 153)
        assert info.segments <= math.ceil(info.units / 152)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    info = count_segments(text)
    assert info.units >= len(text)
    assert info.segments * info.per_segment >= info.units
    if info.non_gsm_chars:
        assert info.encoding is UCS2
        assert info.units == len(text.encode("utf-16-le")) // 2
        assert set(info.non_gsm_chars) == {ch for ch in text if ch not in _GSM_BASIC and ch not in _GSM_EXTENDED}
    else:
        assert info.encoding is GSM7


@settings(max_examples=200)
@given(st.text(max_size=300), st.text(max_size=10))
def test_appending_never_reduces_segments(text: str, more: str) -> None:
    before = count_segments(text)
    after = count_segments(text + more)
    if before.encoding == after.encoding:
        assert after.segments >= before.segments
