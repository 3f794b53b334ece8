"""SMS segments: how many messages a text costs, and in which encoding.

A text made only of GSM 03.38 characters travels as GSM-7 (160 characters in one segment, 153 per
segment when split; extension characters such as `€` or `{` count twice). Any other character, one
emoji is enough, turns the whole text into UCS-2 (70 UTF-16 code units, 67 per segment when split).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"
GSM_BASIC = frozenset(_GSM_BASIC)
GSM_EXTENDED = frozenset(_GSM_EXTENDED)


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What sending a text as SMS costs: `units` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Encoding
    units: int
    segments: int
    per_segment: int
    non_gsm_chars: tuple[str, ...] = ()

    def describe(self) -> str:
        plural = "segment" if self.segments == 1 else "segments"
        return f"{self.segments} {plural}, {self.encoding.value} ({self.units}/{self.per_segment * self.segments})"


def count_segments(text: str) -> SegmentInfo:
    """Segment count and encoding of `text` as an SMS."""
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM_BASIC and ch not in GSM_EXTENDED))
    if not non_gsm:
        weights = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        single, multi, encoding = 160, 153, Encoding.GSM7
    else:
        weights = [len(ch.encode("utf-16-le")) // 2 for ch in text]
        single, multi, encoding = 70, 67, Encoding.UCS2
    units = sum(weights)
    if units <= single:
        return SegmentInfo(encoding, units, 1 if units else 0, single, non_gsm)
    # An escape pair or a surrogate pair is never split across segments, so pack greedily.
    segments, used = 1, 0
    for weight in weights:
        if used + weight > multi:
            segments, used = segments + 1, 0
        used += weight
    return SegmentInfo(encoding, units, segments, multi, non_gsm)
