"""Drafts (make_draft, Rules, RawDraft, check_url, DraftError) and the Sociocs bodies built from them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.draft import (
    MAX_IMAGES,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    Draft,
    DraftError,
    Problem,
    RawDraft,
    Rules,
    check_url,
    make_draft,
)
from bot.domain.payload import MessagePayload, payload_for
from bot.domain.phone import PhoneNumber
from bot.domain.providers import Provider

N1 = "+16175551212"
N2 = "+16175551213"
KEY = "ck_twlo_live_9f8e7d6c"
KEYS = {Provider.TWLO: KEY, Provider.TWLOWA: "ck_twlowa_2222", Provider.GSWA: "ck_gswa_33334444"}
RULES = Rules(channel_keys=KEYS, default_provider=Provider.TWLO)
US = PhoneNumber(N1, "US")


def problems_of(raw: RawDraft, rules: Rules = RULES) -> DraftError:
    with pytest.raises(DraftError) as info:
        make_draft(raw, rules)
    return info.value


# --- a good draft -----------------------------------------------------------------------------------


def test_simple_draft() -> None:
    assert make_draft(RawDraft([N1], text="Hello"), RULES) == Draft(
        provider=Provider.TWLO, recipients=(US,), text="Hello", name=None, image_urls=(), file_url=None
    )


def test_draft_normalises_everything() -> None:
    draft = make_draft(
        RawDraft(
            recipients=[" +1 (617) 555-1212 ", "", "  ", N2],
            text="  Hello\n  there  ",
            provider=Provider.TWLO,
            name="  Jane \n  Doe ",
            image_urls=[" https://x.test/1.png ", ""],
            file_url=" https://x.test/a.pdf ",
        ),
        RULES,
    )
    assert draft == Draft(
        provider=Provider.TWLO,
        recipients=(US, PhoneNumber(N2, "US")),
        text="Hello\n  there",
        name="Jane Doe",
        image_urls=("https://x.test/1.png",),
        file_url="https://x.test/a.pdf",
    )


def test_provider_defaults_from_rules() -> None:
    rules = Rules(channel_keys=KEYS, default_provider=Provider.TWLOWA)
    assert make_draft(RawDraft([N1], text="x"), rules).provider is Provider.TWLOWA
    assert make_draft(RawDraft([N1], text="x", provider=Provider.GSWA), rules).provider is Provider.GSWA


def test_default_region_applies_to_recipients() -> None:
    rules = Rules(channel_keys=KEYS, default_provider=Provider.TWLO, default_region="GB")
    draft = make_draft(RawDraft(["020 7946 0958"], text="x"), rules)
    assert draft.recipients == (PhoneNumber("+442079460958", "GB"),)


def test_without_a_region_national_numbers_are_refused_saying_how_to_write_them() -> None:
    error = problems_of(RawDraft(["(323) 555-0149", "201-555-0150"], text="x"), RULES)
    messages = [p.message for p in error.problems]
    assert len(messages) == 2 and all(p.field == "to" for p in error.problems)
    assert messages[0].startswith("(323) 555-0149 has no country code: write it with + and the country code")
    assert all("+1 617 555 1212" in m and "DEFAULT_REGION" in m for m in messages)


def test_premium_and_satellite_numbers_are_refused_naming_the_type() -> None:
    error = problems_of(RawDraft(["+1 900 555 1212", "+870 772 001 799", N1], text="x"), RULES)
    assert [p.message for p in error.problems] == [
        "+19005551212 is a premium-rate number, which this bot does not text "
        "(an admin can allow it by adding premium_rate to ALLOWED_NUMBER_TYPES).",
        "+870772001799 is a satellite or international network number, which this bot does not text "
        "(an admin can allow it by adding satellite to ALLOWED_NUMBER_TYPES).",
    ]


def test_allowed_number_types_let_a_type_through() -> None:
    rules = Rules(
        channel_keys=KEYS,
        default_provider=Provider.TWLO,
        allowed_number_types=frozenset({"mobile", "fixed_line", "fixed_line_or_mobile", "toll_free"}),
    )
    draft = make_draft(RawDraft(["+1 800 555 1212"], text="x"), rules)
    assert draft.recipients[0].e164 == "+18005551212"
    assert rules.number_problem(draft.recipients[0]) is None
    assert problems_of(RawDraft(["+19005551212"], text="x"), rules).problems[0].field == "to"


def test_duplicate_recipients_are_collapsed() -> None:
    draft = make_draft(RawDraft([N1, "0016175551212", "+1 617 555 1212", N2, N1], text="x"), RULES)
    assert draft.recipients == (US, PhoneNumber(N2, "US"))


def test_duplicate_images_are_collapsed_in_order() -> None:
    urls = ["https://x.test/2.png", "https://x.test/1.png", "https://x.test/2.png"]
    assert make_draft(RawDraft([N1], image_urls=urls), RULES).image_urls == (
        "https://x.test/2.png",
        "https://x.test/1.png",
    )


@pytest.mark.parametrize(
    "raw",
    [
        RawDraft([N1], image_urls=["https://x.test/1.png"]),
        RawDraft([N1], file_url="https://x.test/a.pdf"),
        RawDraft([N1], text="   ", image_urls=["https://x.test/1.png", "http://x.test/2.png"]),
    ],
)
def test_media_without_text_is_valid(raw: RawDraft) -> None:
    draft = make_draft(raw, RULES)
    assert draft.text == ""
    assert draft.image_urls or draft.file_url


def test_blank_name_is_none() -> None:
    assert make_draft(RawDraft([N1], text="x", name="   "), RULES).name is None
    assert make_draft(RawDraft([N1], text="x", name=""), RULES).name is None


# --- problems, by field -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_nothing_to_send(text: str) -> None:
    error = problems_of(RawDraft([N1], text=text, image_urls=["  "], file_url="  "))
    assert error.problems == (Problem("text", "Nothing to send: write a message, or add an image or a file."),)
    assert error.by_field() == {"text": "Nothing to send: write a message, or add an image or a file."}


def test_no_recipients() -> None:
    error = problems_of(RawDraft(["", "  "], text="x"))
    assert error.by_field() == {"to": "Add at least one phone number to send to."}


def test_too_many_recipients() -> None:
    numbers = [f"+1617555{n:04d}" for n in range(1000, 1011)]
    error = problems_of(RawDraft(numbers, text="x"))
    assert error.by_field() == {"to": "11 recipients is too many: at most 10 per message."}
    # Exactly the maximum is fine.
    assert len(make_draft(RawDraft(numbers[:10], text="x"), RULES).recipients) == 10


def test_max_recipients_comes_from_rules() -> None:
    rules = Rules(channel_keys=KEYS, default_provider=Provider.TWLO, max_recipients=2)
    error = problems_of(RawDraft([N1, N2, "+16175551214"], text="x"), rules)
    assert error.by_field() == {"to": "3 recipients is too many: at most 2 per message."}


def test_invalid_recipients_are_each_named() -> None:
    error = problems_of(RawDraft([N1, "abc", "+1617", "(617) 555-1212"], text="x"))
    assert [p.field for p in error.problems] == ["to", "to", "to"]
    assert error.problems[0].message == "abc is not a phone number."
    assert error.problems[1].message == "+1617 is too short to be a phone number."
    assert error.problems[2].message.startswith("(617) 555-1212 ")
    assert "DEFAULT_REGION" in error.problems[2].message
    assert error.by_field()["to"] == " ".join(p.message for p in error.problems)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://x.test/a.png", "is not an http(s) link"),
        ("javascript:alert(1)", "is not an http(s) link"),
        ("file:///etc/passwd", "is not an http(s) link"),
        ("x.test/a.png", "is not an http(s) link"),
        ("//x.test/a.png", "is not an http(s) link"),
        ("https://", "is not a complete link"),
        ("https:///a.png", "is not a complete link"),
        ("https://x.test/a b.png", "is not a complete link"),
    ],
)
def test_bad_image_url(url: str, why: str) -> None:
    error = problems_of(RawDraft([N1], text="x", image_urls=[url]))
    assert error.problems == (Problem("images", f"The image {url} {why}."),)


@pytest.mark.parametrize(
    ("url", "why"),
    [("mailto:a@b.c", "is not an http(s) link"), ("https://a b", "is not a complete link")],
)
def test_bad_file_url(url: str, why: str) -> None:
    error = problems_of(RawDraft([N1], text="x", file_url=f"  {url} "))
    assert error.problems == (Problem("file", f"The file {url} {why}."),)


def test_bad_media_alone_does_not_also_say_nothing_to_send() -> None:
    error = problems_of(RawDraft([N1], image_urls=["ftp://x.test/a.png"]))
    assert set(error.by_field()) == {"images"}


def test_too_many_images() -> None:
    urls = [f"https://x.test/{i}.png" for i in range(MAX_IMAGES + 1)]
    error = problems_of(RawDraft([N1], image_urls=urls))
    assert error.by_field() == {"images": f"{MAX_IMAGES + 1} images is too many: at most {MAX_IMAGES}."}
    assert len(make_draft(RawDraft([N1], image_urls=urls[:MAX_IMAGES]), RULES).image_urls) == MAX_IMAGES


def test_name_too_long() -> None:
    error = problems_of(RawDraft([N1], text="x", name="n" * (MAX_NAME_LENGTH + 1)))
    assert error.by_field() == {"name": f"The name is longer than {MAX_NAME_LENGTH} characters."}
    assert make_draft(RawDraft([N1], text="x", name="n" * MAX_NAME_LENGTH), RULES).name == "n" * MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("provider", "limit", "label"),
    [
        (Provider.TWLO, 1600, "SMS (Twilio)"),
        (Provider.TWLOWA, 4096, "WhatsApp (Twilio)"),
        (Provider.GSWA, 4096, "WhatsApp (Gupshup)"),
    ],
)
def test_text_over_the_provider_limit(provider: Provider, limit: int, label: str) -> None:
    assert make_draft(RawDraft([N1], text="x" * limit, provider=provider), RULES).text == "x" * limit
    error = problems_of(RawDraft([N1], text="x" * (limit + 1), provider=provider))
    assert error.by_field() == {"text": f"The message is {limit + 1} characters; {label} takes at most {limit}."}


def test_text_limit_counts_after_stripping() -> None:
    assert make_draft(RawDraft([N1], text="  " + "x" * 1600 + "\n"), RULES).text == "x" * 1600


@pytest.mark.parametrize(
    ("provider", "setting"),
    [
        (Provider.TWLO, "SOCIOCS_CHANNEL_KEY_TWLO"),
        (Provider.TWLOWA, "SOCIOCS_CHANNEL_KEY_TWLOWA"),
        (Provider.GSWA, "SOCIOCS_CHANNEL_KEY_GSWA"),
    ],
)
def test_unconfigured_provider_names_its_setting(provider: Provider, setting: str) -> None:
    others = {p: "key" for p in Provider if p is not provider}
    rules = Rules(channel_keys=others, default_provider=next(iter(others)))
    error = problems_of(RawDraft([N1], text="x", provider=provider), rules)
    assert error.by_field() == {"provider": f"{provider.label} is not set up here: an admin must set {setting}."}


def test_unconfigured_provider_is_allowed_in_dry_run() -> None:
    rules = Rules(channel_keys={Provider.TWLO: KEY}, default_provider=Provider.TWLO, dry_run=True)
    draft = make_draft(RawDraft([N1], text="x", provider=Provider.GSWA), rules)
    assert draft.provider is Provider.GSWA


def test_no_provider_at_all() -> None:
    error = problems_of(RawDraft([N1], text="x"), Rules(channel_keys={}, default_provider=None))
    assert error.by_field() == {
        "provider": "No Sociocs channel is configured: set SOCIOCS_CHANNEL_KEY_TWLO, _TWLOWA or _GSWA."
    }
    # Even in dry run there must be a provider to build a payload for.
    error = problems_of(RawDraft([N1], text="x"), Rules(channel_keys={}, default_provider=None, dry_run=True))
    assert set(error.by_field()) == {"provider"}


def test_every_problem_is_reported_at_once() -> None:
    error = problems_of(
        RawDraft(
            ["abc"],
            text="",
            provider=Provider.GSWA,
            name="n" * 101,
            image_urls=["ftp://a"],
            file_url="nope",
        ),
        Rules(channel_keys={Provider.TWLO: KEY}, default_provider=Provider.TWLO),
    )
    assert [p.field for p in error.problems] == ["provider", "to", "name", "images", "file"]
    assert str(error) == "; ".join(p.message for p in error.problems)


def test_by_field_joins_messages_of_one_field() -> None:
    error = DraftError([Problem("to", "A."), Problem("text", "B."), Problem("to", "C.")])
    assert error.by_field() == {"to": "A. C.", "text": "B."}
    assert str(error) == "A.; B.; C."
    assert isinstance(error, ValueError)


def test_rules_channel_key() -> None:
    assert RULES.channel_key(Provider.TWLO) == KEY
    assert Rules(channel_keys={}, default_provider=None).channel_key(Provider.GSWA) is None


# --- check_url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://x.test/a.png", "https://x.test/a.png"),
        ("  http://x.test/a.png\n", "http://x.test/a.png"),
        ("HTTPS://X.TEST/A.PNG", "HTTPS://X.TEST/A.PNG"),
        ("https://x.test:8443/a?b=1&c=2#d", "https://x.test:8443/a?b=1&c=2#d"),
        ("https://user@x.test/a", "https://user@x.test/a"),
    ],
)
def test_check_url_accepts(text: str, url: str) -> None:
    assert check_url(text) == url


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("https://x.test/" + "a" * MAX_URL_LENGTH, f"is longer than {MAX_URL_LENGTH} characters"),
        ("data:image/png;base64,AAAA", "is not an http(s) link"),
        ("x.test", "is not an http(s) link"),
        ("https://", "is not a complete link"),
        ("http://x .test", "is not a complete link"),
    ],
)
def test_check_url_rejects(text: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        check_url(text)
    assert str(info.value) == why


def test_check_url_length_boundary() -> None:
    url = "https://x.test/" + "a" * (MAX_URL_LENGTH - len("https://x.test/"))
    assert len(url) == MAX_URL_LENGTH
    assert check_url(url) == url
    with pytest.raises(ValueError):
        check_url(url + "a")


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_check_url_returns_an_http_url_or_raises(text: str) -> None:
    try:
        url = check_url(text)
    except ValueError:
        return
    assert url == text.strip()
    assert url.lower().startswith(("http://", "https://"))
    assert not any(ch.isspace() for ch in url)


# --- payload_for ------------------------------------------------------------------------------------


def draft(**kwargs: object) -> Draft:
    fields: dict[str, object] = {"provider": Provider.TWLO, "recipients": (US,)}
    fields.update(kwargs)
    return Draft(**fields)  # type: ignore[arg-type]


def test_text_only_payload() -> None:
    payload = payload_for(draft(text="Hello"), US, KEY)
    assert payload.to_json() == {"provider": "twlo", "channel_key": KEY, "to": N1, "text": "Hello"}


def test_one_image_goes_as_image_url() -> None:
    payload = payload_for(draft(text="Hi", image_urls=("https://x.test/1.png",)), US, KEY)
    assert payload.to_json() == {
        "provider": "twlo",
        "channel_key": KEY,
        "to": N1,
        "text": "Hi",
        "image_url": "https://x.test/1.png",
    }


def test_several_images_go_as_image_urls() -> None:
    urls = ("https://x.test/1.png", "https://x.test/2.png", "https://x.test/3.png")
    body = payload_for(draft(image_urls=urls), US, KEY).to_json()
    assert body == {"provider": "twlo", "channel_key": KEY, "to": N1, "image_urls": list(urls)}


def test_file_goes_as_file_url() -> None:
    body = payload_for(draft(file_url="https://x.test/a.pdf", name="Jane Doe"), US, KEY).to_json()
    assert body == {
        "provider": "twlo",
        "channel_key": KEY,
        "to": N1,
        "name": "Jane Doe",
        "file_url": "https://x.test/a.pdf",
    }


def test_name_and_text_left_out_when_empty() -> None:
    body = payload_for(draft(text="", name=None, file_url="https://x.test/a.pdf"), US, KEY).to_json()
    assert "text" not in body
    assert "name" not in body
    assert None not in body.values()


def test_payload_for_each_recipient() -> None:
    other = PhoneNumber("+442079460958", "GB")
    d = make_draft(RawDraft([N1, "+44 20 7946 0958"], text="Hi", provider=Provider.GSWA), RULES)
    bodies = [payload_for(d, r, "ck_gswa_33334444").to_json() for r in d.recipients]
    assert bodies == [
        {"provider": "gswa", "channel_key": "ck_gswa_33334444", "to": N1, "text": "Hi"},
        {"provider": "gswa", "channel_key": "ck_gswa_33334444", "to": other.e164, "text": "Hi"},
    ]


def test_payload_is_json_serialisable() -> None:
    body = payload_for(draft(text="Olá 😀", image_urls=("https://x.test/1.png", "https://x.test/2.png")), US, KEY)
    assert json.loads(json.dumps(body.to_json())) == body.to_json()


def test_payload_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError):
        MessagePayload(provider="twlo", channel_key=KEY, to=N1, text="x", bogus="y")  # type: ignore[call-arg]


def test_redacted_hides_the_channel_key() -> None:
    payload = payload_for(draft(text="Hello"), US, KEY)
    shown = payload.redacted()
    assert shown == {"provider": "twlo", "channel_key": "…7d6c", "to": N1, "text": "Hello"}
    assert KEY not in json.dumps(shown, ensure_ascii=False)
    # The payload itself is untouched.
    assert payload.to_json()["channel_key"] == KEY


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("123456789", "…6789"),
        ("12345678", "…"),
        ("short", "…"),
        ("(unset: SOCIOCS_CHANNEL_KEY_GSWA)", "(unset: SOCIOCS_CHANNEL_KEY_GSWA)"),
    ],
)
def test_redacted_short_and_unset_keys(key: str, shown: str) -> None:
    assert MessagePayload(provider="gswa", channel_key=key, to=N1, text="x").redacted()["channel_key"] == shown


_urls = st.lists(
    st.from_regex(r"https://[a-z]{1,8}\.test/[a-z0-9]{0,12}", fullmatch=True), min_size=0, max_size=MAX_IMAGES
)


@settings(max_examples=200)
@given(
    text=st.text(max_size=50),
    name=st.one_of(st.none(), st.text(max_size=20)),
    images=_urls,
    file_url=st.one_of(st.none(), st.just("https://x.test/a.pdf")),
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=9, max_size=40),
)
def test_payload_properties(text: str, name: str | None, images: list[str], file_url: str | None, key: str) -> None:
    try:
        d = make_draft(RawDraft([N1], text=text, name=name, image_urls=images, file_url=file_url), RULES)
    except DraftError as exc:
        assert exc.by_field() == {"text": "Nothing to send: write a message, or add an image or a file."}
        assert not text.strip() and not images and file_url is None
        return
    body = payload_for(d, d.recipients[0], key).to_json()
    assert None not in body.values()
    assert "" not in body.values()
    assert body["to"] == N1
    assert body["channel_key"] == key
    assert {"text", "image_url", "image_urls", "file_url"} & set(body)
    unique = list(dict.fromkeys(images))
    assert body.get("image_url") == (unique[0] if len(unique) == 1 else None)
    assert body.get("image_urls") == (unique if len(unique) > 1 else None)
    redacted = payload_for(d, d.recipients[0], key).redacted()
    assert redacted["channel_key"] == "…" + key[-4:]
    assert redacted == {**body, "channel_key": "…" + key[-4:]}


def test_a_hundred_recipients_keep_the_first_of_each_number_in_order() -> None:
    typed = [f"+1617555{i:04d}" for i in range(100)]
    rules = Rules(channel_keys={Provider.TWLO: "ck"}, default_provider=Provider.TWLO, max_recipients=100)
    mixed = typed[:50] + [t.replace("+1617", "+1 617 ") for t in typed[:25]] + typed[50:75]
    draft = make_draft(RawDraft(mixed, text="x"), rules)
    assert [r.e164 for r in draft.recipients] == typed[:75]
