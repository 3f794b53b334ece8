"""The front door's form parser answers exactly as `dict(parse_qsl(..., keep_blank_values=True, errors="strict"))`."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.front_door import parse_form

_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2", "%20", "%zz", "%C3%A9", "%C3", "%FF", "a", "é", " ", ";", "&&", "=="]
)


def _reference(text: str) -> dict[str, str] | type[BaseException]:
    try:
        return dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
    except Exception as exc:
        return type(exc)


def _mine(text: str) -> dict[str, str] | type[BaseException]:
    try:
        return parse_form(text)
    except Exception as exc:
        return type(exc)


@settings(max_examples=2000)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=12).map("".join))
def test_any_text_parses_as_parse_qsl_parses_it(text: str) -> None:
    assert _mine(text) == _reference(text)


@pytest.mark.parametrize(
    "fields",
    [
        {"command": "/sms", "text": "+1 617 555 1212 Your order is ready: 50% off & more = fun"},
        {"text": "<tel:+16175551212|+1 617 555 1212> «quoted» naïve 🎉", "user_id": "U0SENDER"},
        {"payload": '{"type": "block_actions", "actions": [{"value": "a&b=c"}]}'},
        {"empty": "", "": "blank name"},
    ],
)
def test_slack_forms_read_back_as_they_were_written(fields: dict[str, str]) -> None:
    assert parse_form(urlencode(fields)) == fields


def test_invalid_utf8_after_percent_decoding_is_refused_as_parse_qsl_refuses_it() -> None:
    with pytest.raises(UnicodeDecodeError):
        parse_form("text=%FF")
