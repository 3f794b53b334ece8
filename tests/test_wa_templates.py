"""WhatsApp templates in the domain: the catalogue checked at start, the payload per provider, the media
rules per provider, and values that reach the customer exactly as typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, Settings
from bot.domain.draft import DraftError, RawDraft, Rules, make_draft
from bot.domain.payload import payload_for
from bot.domain.providers import Provider
from bot.domain.templates import Catalogue, CatalogueError, load_catalogue
from bot.slack.command import SendRequest, parse_command
from bot.slack.listeners.commands.sms import raw_draft
from bot.slack.text import escape

ROOT = Path(__file__).resolve().parent.parent
N1 = "+16175551212"
KEYS = {Provider.TWLO: "ck-1", Provider.TWLOWA: "ck-2", Provider.GSWA: "ck-3"}
CATALOGUE = load_catalogue(ROOT / "templates.example.toml")
RULES = Rules(channel_keys=KEYS, default_provider=Provider.TWLO, templates=CATALOGUE)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_catalogue_loads() -> None:
    assert [t.name for t in CATALOGUE.for_provider(Provider.TWLOWA)] == ["order_ready"]
    assert [t.name for t in CATALOGUE.for_provider(Provider.GSWA)] == ["appointment_reminder"]
    assert CATALOGUE.get("order_ready") is not None


GOOD = """
[[templates]]
name = "order_ready"
provider = "twlowa"
id = "HX1"
text = "Hi {{1}}, order {{2}}"
variables = ["1", "2"]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + GOOD, "template order_ready: name: used by two templates"),
        (GOOD.replace('"twlowa"', '"twlo"'), "template order_ready: provider:"),
        (GOOD.replace('["1", "2"]', '["1"]'), "template order_ready: variables: ['1'] do not match"),
        (GOOD.replace('["1", "2"]', '["1", "1"]'), "template order_ready: variables: a key is listed twice"),
        (
            GOOD.replace('"twlowa"', '"gswa"').replace('["1", "2"]', '["Body.1", "Footer.1"]'),
            "template order_ready: variables: gswa keys are Header.N, Body.N or Buttons.N, not 'Footer.1'",
        ),
        (GOOD + 'labels = ["a"]\n', "template order_ready: labels: 1 labels for 2 variables"),
        (GOOD + "media = true\n", "template order_ready: media: only gswa"),
        (GOOD.replace('id = "HX1"\n', ""), "template order_ready: id: Field required"),
        (GOOD + "colour = 1\n", "template order_ready: colour:"),
        ("[[templates]\n", "not valid TOML"),
    ],
)
def test_a_bad_catalogue_is_one_line_naming_file_template_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_catalogue_stops_the_bot_as_a_configuration_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('["1", "2"]', '["1"]'))
    settings = Settings(_env_file=None, sociocs_templates_file=path, sociocs_channel_key_twlowa="ck")  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as info:
        settings.check_sending()
    assert str(info.value).startswith(f"SOCIOCS_TEMPLATES_FILE {path}: template order_ready: variables:")
    missing = Settings(_env_file=None, sociocs_templates_file=tmp_path / "nope.toml")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="cannot read it"):
        missing.check_sending()


def body(raw: RawDraft) -> dict[str, object]:
    draft = make_draft(raw, RULES)
    return payload_for(draft, draft.recipients[0], KEYS[draft.provider]).to_json()


def test_twlowa_template_payload() -> None:
    raw = RawDraft([N1], provider=Provider.TWLOWA, template="order_ready", template_values=["Jane Doe", "A-1234"])
    assert body(raw) == {
        "provider": "twlowa",
        "channel_key": "ck-2",
        "to": N1,
        "template": {"id": "HX0123456789abcdef0123456789abcdef", "variables": {"1": "Jane Doe", "2": "A-1234"}},
    }


def test_gswa_template_payload_per_component_with_the_media_header() -> None:
    raw = RawDraft(
        [N1],
        provider=Provider.GSWA,
        template="appointment_reminder",
        template_values=["Jane", "Mon 9:00", "R1"],
        image_urls=["https://example.com/clinic.png"],
    )
    assert body(raw) == {
        "provider": "gswa",
        "channel_key": "ck-3",
        "to": N1,
        "template": {
            "id": "b6c1a5e2-0b1e-4a57-9d7a-3f1f2c4e5a6b",
            "variables": {
                "Body": {"1": "Jane", "2": "Mon 9:00"},
                "Buttons": {"1": "R1"},
                "MEDIA_URL": "https://example.com/clinic.png",
            },
        },
    }


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (
            RawDraft([N1], provider=Provider.TWLOWA, template="order_ready", template_values=["Jane"]),
            "template",
            "Customer name | Order number. You gave 1",
        ),
        (
            RawDraft([N1], provider=Provider.TWLOWA, template="nope", template_values=["a"]),
            "template",
            "no template 'nope' for WhatsApp (Twilio); its templates are: order_ready",
        ),
        (RawDraft([N1], provider=Provider.TWLO, template="order_ready"), "template", "Templates are for WhatsApp"),
        (
            RawDraft([N1], provider=Provider.GSWA, template="appointment_reminder", template_values=["a", "b", "c"]),
            "images",
            "media header",
        ),
        (
            RawDraft([N1], provider=Provider.TWLOWA, template="order_ready", template_values=["a", " "]),
            "template",
            "Order number is empty",
        ),
        (RawDraft([N1], "hi", Provider.TWLOWA, image_urls=["https://x.test/a.png"]), "images", "WhatsApp (Twilio)"),
        (RawDraft([N1], "hi", Provider.GSWA, file_url="https://x.test/a.pdf"), "file", "WhatsApp (Gupshup)"),
        (RawDraft([N1], "hi", Provider.GSWA, video_url="https://x.test/a.mp4"), "video", "WhatsApp (Gupshup)"),
        (RawDraft([N1], "hi", Provider.TWLO, video_url="ftp://x.test/a.mp4"), "video", "not an http(s) link"),
    ],
)
def test_refusals_name_what_to_fix(raw: RawDraft, field: str, words: str) -> None:
    with pytest.raises(DraftError) as info:
        make_draft(raw, RULES)
    assert words in info.value.by_field()[field]


def test_video_goes_as_video_url_on_sms() -> None:
    raw = RawDraft([N1], provider=Provider.TWLO, video_url="https://x.test/a.mp4")
    assert body(raw)["video_url"] == "https://x.test/a.mp4"


def test_command_options() -> None:
    parsed = parse_command(f"whatsapp {N1} --template order_ready Jane Doe | A-1234", whatsapp_provider=Provider.TWLOWA)
    assert isinstance(parsed, SendRequest)
    raw = raw_draft(parsed)
    assert (raw.template, list(raw.template_values), raw.text) == ("order_ready", ["Jane Doe", "A-1234"], "")
    video = parse_command(f"{N1} --video https://x.test/a.mp4", whatsapp_provider=Provider.TWLOWA)
    assert isinstance(video, SendRequest) and video.video_url == "https://x.test/a.mp4"


# Values are free text without the separator; whatever else they hold (Slack's escapes, markup-looking
# text, emoji, line breaks inside) reaches the payload exactly as the person typed it.
_value = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="|"), min_size=1, max_size=40
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_value, min_size=2, max_size=2))
def test_values_round_trip_unchanged_into_the_payload(values: list[str]) -> None:
    typed = " | ".join(escape(v) for v in values)  # Slack sends &, < and > escaped in command text
    parsed = parse_command(f"whatsapp {N1} --template order_ready -- {typed}", whatsapp_provider=Provider.TWLOWA)
    assert isinstance(parsed, SendRequest)
    sent = body(raw_draft(parsed))
    expected = {"id": "HX0123456789abcdef0123456789abcdef", "variables": {"1": values[0], "2": values[1]}}
    assert sent["template"] == expected
    assert "text" not in sent


def test_empty_catalogue_by_default() -> None:
    assert Catalogue().templates == ()


def test_the_window_in_words() -> None:
    from datetime import datetime, timedelta

    from bot.domain.window import closed_reason, is_open, outside_window, state

    now = datetime(2026, 12, 1, 14, 5)
    assert is_open(now - timedelta(hours=23, minutes=59), now) and not is_open(now - timedelta(hours=24), now)
    assert not is_open(None, now)
    assert state(now - timedelta(hours=3), now) == (
        "The customer wrote 3 h ago: free text allowed until 2026-12-02 11:05 UTC."
    )
    assert "window is closed" in state(now - timedelta(days=3), now)
    reason = closed_reason(N1, Provider.GSWA, now - timedelta(hours=30), now, CATALOGUE.for_provider(Provider.GSWA))
    assert reason.startswith(f"{N1} last wrote 30 h ago (2026-11-30 08:05 UTC)")
    assert "appointment_reminder" in reason
    assert outside_window("twlowa", "63016") and outside_window("gswa", "131047")
    assert not outside_window("twlo", "63016") and not outside_window("twlowa", "30003")
