"""Every view the app builds stays inside Slack's limits, whatever was typed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.providers import Provider
from bot.slack.views import (
    ComposeContext,
    Prefill,
    build_compose_view,
    check_view,
    raw_draft_from_state,
)

ALL = [Provider.TWLO, Provider.TWLOWA, Provider.GSWA]


def build(prefill: Prefill | None = None, origin: str = "command", **kwargs: object) -> dict:
    context = ComposeContext(origin=origin, channel="C0GENERAL", thread_ts="1700.000100")  # type: ignore[arg-type]
    return build_compose_view(providers=ALL, default_provider=Provider.TWLO, context=context, prefill=prefill, **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=5000),
    name=st.text(max_size=100),
    recipients=st.lists(st.text(max_size=30), max_size=12),
    images=st.lists(st.text(max_size=200), max_size=12),
    origin=st.sampled_from(["command", "message", "global"]),
    provider=st.sampled_from([None, *ALL]),
)
def test_any_prefill_builds_a_view_slack_accepts(text, name, recipients, images, origin, provider):
    view = build(
        Prefill(provider=provider, recipients=recipients, name=name or None, text=text, image_urls=images),
        origin=origin,
    )
    check_view(view)
    assert len(view["private_metadata"]) < 200  # small and typed, whatever the message length
    assert len(view["title"]["text"]) <= 24


def test_long_text_is_cut_to_what_the_input_takes():
    view = build(Prefill(text="y" * 5000))
    text = next(b for b in view["blocks"] if b.get("block_id") == "text")["element"]
    assert len(text["initial_value"]) == 3000 == text["max_length"]


def test_destination_picker_only_where_not_opened_from_a_message():
    assert "destination" in [b.get("block_id") for b in build(origin="global")["blocks"]]
    assert "destination" not in [b.get("block_id") for b in build(origin="message")["blocks"]]


def test_only_configured_providers_are_offered_with_the_default_selected():
    context = ComposeContext(origin="global")
    view = build_compose_view(
        providers=[Provider.GSWA, Provider.TWLOWA], default_provider=Provider.TWLOWA, context=context
    )
    element = view["blocks"][0]["element"]
    assert [o["value"] for o in element["options"]] == ["twlowa", "gswa"]
    assert element["initial_option"]["value"] == "twlowa"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda v: v["title"].update(text="x" * 25), "title"),
        (lambda v: v.update(blocks=v["blocks"] * 13), "blocks"),
        (lambda v: v.update(private_metadata="m" * 3001), "private_metadata"),
        (lambda v: v["blocks"][3]["element"].update(max_length=4000), "max_length"),
        (lambda v: v["blocks"][2]["element"].update(initial_value="n" * 101), "initial_value"),
        (lambda v: v["blocks"][4].update(elements=[]), "context"),
    ],
)
def test_check_view_catches_what_slack_would_refuse(mutate, message):
    view = json.loads(json.dumps(build()))
    mutate(view)
    with pytest.raises(ValueError, match=message):
        check_view(view)


def test_reading_the_form_splits_numbers_and_links():
    values = {
        "provider": {"provider": {"selected_option": {"value": "twlowa"}}},
        "to": {"to": {"value": "+16175550101, +16175550102\n+16175550103;"}},
        "name": {"name": {"value": None}},
        "text": {"text": {"value": "hi <there> &amp;"}},
        "images": {"images": {"value": "https://a.example/1.png\n\n https://a.example/2.png "}},
        "file": {"file": {"value": None}},
    }
    raw = raw_draft_from_state(values)
    assert raw.provider is Provider.TWLOWA
    assert list(raw.recipients) == ["+16175550101", " +16175550102", "+16175550103"]
    assert raw.text == "hi <there> &amp;"  # modal input is plain text: nothing to decode
    assert list(raw.image_urls) == ["https://a.example/1.png", "https://a.example/2.png"]
    assert raw.name is None and raw.file_url is None
