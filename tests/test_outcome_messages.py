"""Outcomes, the advice for each class of failure, and what the bot posts in Slack about a send."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.draft import Draft
from bot.domain.outcome import Outcome, OutcomeKind
from bot.domain.payload import payload_for
from bot.domain.phone import PhoneNumber
from bot.domain.providers import Provider
from bot.slack.messages import help_text, outcome_text, parent_blocks, segment_note, summary_text
from bot.slack.text import decode

N1 = PhoneNumber("+16175551212", "US")
N2 = PhoneNumber("+442079460958", "GB")
KEY = "ck_twlo_live_9f8e7d6c"
SLACK_SECTION_LIMIT = 3000


def make_draft(**kwargs: Any) -> Draft:
    fields: dict[str, Any] = {"provider": Provider.TWLO, "recipients": (N1,), "text": "Hello"}
    fields.update(kwargs)
    return Draft(**fields)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text in the blocks, sections and context elements alike."""
    found: list[str] = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(element["text"])
    return found


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def quoted_text(blocks: list[dict[str, Any]]) -> str:
    """The draft text rebuilt from the quote sections: quoting removed, entities decoded.

    A line too long for one section continues at the start of the next one, so a section boundary is
    a newline of the text only where the text has one there.
    """
    parts: list[str] = []
    for text in sections(blocks)[1:]:
        if not text.startswith(">"):
            continue
        lines = text.split("\n")
        for line in lines:
            assert line == ">" or line.startswith("> "), line
        parts.append(decode("\n".join(line[2:] for line in lines)))
    return "".join(parts)


def assert_quotes(blocks: list[dict[str, Any]], text: str) -> None:
    rebuilt = quoted_text(blocks)
    # Boundaries that fell on a newline lost it in the join: put them back where the text has them.
    parts = [decode("\n".join(line[2:] for line in s.split("\n"))) for s in sections(blocks)[1:] if s.startswith(">")]
    pos = 0
    for i, part in enumerate(parts):
        if i and text.startswith("\n", pos):
            pos += 1
        assert text.startswith(part, pos), (i, part[:40], text[pos : pos + 40])
        pos += len(part)
    assert pos == len(text)
    assert rebuilt.replace("\n", "") == text.replace("\n", "")


# --- Outcome and advice -----------------------------------------------------------------------------


def test_sent() -> None:
    outcome = Outcome.sent("msg_123")
    assert outcome == Outcome(OutcomeKind.SENT, message_id="msg_123")
    assert outcome.ok is True
    assert outcome.advice() is None


def test_dry_run() -> None:
    assert Outcome.dry_run() == Outcome(OutcomeKind.DRY_RUN)
    assert Outcome.dry_run().ok is False
    assert Outcome.dry_run().advice() is None


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (401, "The Sociocs API key was refused: tell an admin to check SOCIOCS_API_KEY."),
        (429, "Sociocs is rate limiting: try again shortly."),
        (400, "Sociocs refused the message as written: fix what it says and send again."),
        (404, "The Sociocs endpoint was not found: tell an admin to check SOCIOCS_BASE_URL."),
        (403, "Nothing was sent: try again, or tell an admin if it persists."),
        (422, "Nothing was sent: try again, or tell an admin if it persists."),
        (
            None,
            "The bot could not reach Sociocs, so nothing was sent: try again, or tell an admin if it persists.",
        ),
    ],
)
def test_failure_advice(status: int | None, advice: str) -> None:
    outcome = Outcome.failed("error", status)
    assert outcome.ok is False
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.advice() == advice


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 511, 200])
def test_unknown_outcome_advises_checking_before_resending(status: int | None) -> None:
    outcome = Outcome.unknown("Sociocs did not answer within 15 s", status)
    assert outcome.ok is False
    assert outcome.advice() == "The message may or may not have been sent: check Sociocs before resending."


def test_failed_keeps_retry_after() -> None:
    outcome = Outcome.failed("rate limit reached", 429, retry_after=2.5)
    assert (outcome.http_status, outcome.retry_after, outcome.error) == (429, 2.5, "rate limit reached")


# --- outcome_text ----------------------------------------------------------------------------------


def payload(draft: Draft | None = None, recipient: PhoneNumber = N1) -> Any:
    return payload_for(draft or make_draft(), recipient, KEY)


def test_outcome_text_sent() -> None:
    assert outcome_text(N1, payload(), Outcome.sent("msg_123")) == (
        ":white_check_mark: Sent to +16175551212. Sociocs message id `msg_123`."
    )


def test_outcome_text_failed_quotes_sociocs() -> None:
    text = outcome_text(N1, payload(), Outcome.failed("Invalid channel_key.", 400))
    assert text == (
        ":x: Not sent to +16175551212: Sociocs said “Invalid channel_key.” (HTTP 400). "
        "Sociocs refused the message as written: fix what it says and send again."
    )


def test_outcome_text_bad_api_key() -> None:
    text = outcome_text(N1, payload(), Outcome.failed("Unauthorized", 401))
    assert text.startswith(":x: Not sent to +16175551212: Sociocs said “Unauthorized” (HTTP 401).")
    assert text.endswith("SOCIOCS_API_KEY.")


def test_outcome_text_rate_limited() -> None:
    text = outcome_text(N1, payload(), Outcome.failed("rate limit reached", 429, 3))
    assert text.endswith("(HTTP 429). Sociocs is rate limiting: try again shortly.")


def test_outcome_text_connection_failure() -> None:
    text = outcome_text(N2, payload(recipient=N2), Outcome.failed("could not connect to Sociocs (ConnectError)"))
    assert text == (
        ":x: Not sent to +442079460958: could not connect to Sociocs (ConnectError). "
        "The bot could not reach Sociocs, so nothing was sent: try again, or tell an admin if it persists."
    )
    assert "HTTP" not in text


@pytest.mark.parametrize(("status", "shown"), [(None, ""), (502, " (HTTP 502)")])
def test_outcome_text_unknown(status: int | None, shown: str) -> None:
    text = outcome_text(N1, payload(), Outcome.unknown("Sociocs server error: Bad Gateway", status))
    assert text == (
        f":warning: Outcome unknown for +16175551212: Sociocs server error: Bad Gateway{shown}. "
        "The message may or may not have been sent: check Sociocs before resending."
    )


def test_outcome_text_escapes_sociocs_text() -> None:
    failed = outcome_text(N1, payload(), Outcome.failed("bad <!channel> & <@U1>", 400))
    assert "“bad &lt;!channel&gt; &amp; &lt;@U1&gt;”" in failed
    assert "<!channel>" not in failed
    assert "<@U1>" not in failed
    sent = outcome_text(N1, payload(), Outcome.sent("<!here>"))
    assert "`&lt;!here&gt;`" in sent
    assert "<" not in sent


def test_outcome_text_dry_run_shows_the_redacted_request() -> None:
    draft = make_draft(text="Hi <!channel> & co", name="Jane", image_urls=("https://x.test/1.png",))
    text = outcome_text(N1, payload(draft), Outcome.dry_run())
    head, _, rest = text.partition("\n")
    assert head == ":test_tube: Dry run: not sent to +16175551212. The Sociocs request would be:"
    assert rest.startswith("```POST /message\n")
    assert rest.endswith("```")
    body = json.loads(decode(rest.removeprefix("```POST /message\n").removesuffix("```")))
    assert body == {
        "provider": "twlo",
        "channel_key": "…7d6c",
        "to": "+16175551212",
        "name": "Jane",
        "text": "Hi <!channel> & co",
        "image_url": "https://x.test/1.png",
    }
    assert KEY not in text
    assert "<!channel>" not in text


# --- parent_blocks -----------------------------------------------------------------------------------


def test_parent_blocks_simple() -> None:
    blocks = parent_blocks(make_draft(text="Your order is ready"), "U123", dry_run=False)
    assert blocks == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":outbox_tray: <@U123> sent SMS (Twilio) to *+16175551212*",
                "verbatim": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "> Your order is ready", "verbatim": True}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "SMS: 1 segment, GSM-7 (19/160)", "verbatim": True}],
        },
    ]


def test_parent_blocks_names_recipients_and_provider() -> None:
    draft = make_draft(provider=Provider.GSWA, recipients=(N1, N2), name="Jane Doe")
    first = sections(parent_blocks(draft, None, dry_run=False))[0]
    assert first == (
        ":outbox_tray: Someone sent WhatsApp (Gupshup) to Jane Doe (*+16175551212*), Jane Doe (*+442079460958*)"
    )


def test_summary_text() -> None:
    assert summary_text(make_draft(), "U1") == "<@U1> sent SMS (Twilio) to *+16175551212*"
    assert (
        summary_text(make_draft(provider=Provider.TWLOWA), None) == "Someone sent WhatsApp (Twilio) to *+16175551212*"
    )


@pytest.mark.parametrize("literal", ["<!channel>", "<!here>", "<!everyone>", "<@U1>", "<#C1>", "<!subteam^S1>"])
def test_user_text_is_escaped_everywhere(literal: str) -> None:
    draft = make_draft(
        text=f"Hi {literal} & friends",
        name=f"Jane {literal}",
        image_urls=(f"https://x.test/a?q={literal}",),
        file_url=f"https://x.test/f?q={literal}",
    )
    blocks = parent_blocks(draft, "U999", dry_run=True)
    everything = json.dumps(blocks, ensure_ascii=False)
    assert literal not in everything
    escaped = "&lt;" + literal[1:-1] + "&gt;"
    for text in texts(blocks):
        assert literal not in text
    assert escaped in sections(blocks)[0]  # the name
    assert f"> Hi {escaped} &amp; friends" in sections(blocks)[1]  # the text
    assert f"Image: https://x.test/a?q={escaped}" in sections(blocks)[2]
    assert f"File: https://x.test/f?q={escaped}" in sections(blocks)[2]
    # The only mention is the sender's own.
    assert re.findall(r"<[^<>]*>", everything) == ["<@U999>"]


def test_text_newlines_are_each_quoted() -> None:
    blocks = parent_blocks(make_draft(text="one\n\ntwo\n  three"), None, dry_run=False)
    assert sections(blocks)[1] == "> one\n>\n> two\n>   three"


def test_media_section() -> None:
    draft = make_draft(
        text="", image_urls=("https://x.test/1.png", "https://x.test/2.png"), file_url="https://x.test/a.pdf"
    )
    blocks = parent_blocks(draft, None, dry_run=False)
    assert blocks[1:] == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Image: https://x.test/1.png\nImage: https://x.test/2.png\nFile: https://x.test/a.pdf",
                "verbatim": True,
            },
        }
    ]


def test_segment_note_for_sms() -> None:
    blocks = parent_blocks(make_draft(text="a" * 161), None, dry_run=False)
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "SMS: 2 segments, GSM-7 (161/306)", "verbatim": True}],
    }


def test_segment_note_names_the_ucs2_characters() -> None:
    note = segment_note(Provider.TWLO, "Thanks 😀 — see you")
    assert note == "SMS: 1 segment, UCS-2 (19/70); UCS-2 because of 😀 —"


def test_segment_note_shows_at_most_five_characters() -> None:
    note = segment_note(Provider.TWLO, "ąćęłńóśźż")
    assert note is not None
    assert note.endswith("UCS-2 because of ą ć ę ł ń")


@pytest.mark.parametrize("provider", [Provider.TWLOWA, Provider.GSWA])
def test_no_segment_note_for_whatsapp(provider: Provider) -> None:
    assert segment_note(provider, "Hello 😀") is None
    blocks = parent_blocks(make_draft(provider=provider, text="Hello 😀"), None, dry_run=False)
    assert [b["type"] for b in blocks] == ["section", "section"]
    assert not any("SMS:" in t or "segment" in t for t in texts(blocks))


def test_no_segment_note_without_text() -> None:
    assert segment_note(Provider.TWLO, "") is None
    blocks = parent_blocks(make_draft(text="", image_urls=("https://x.test/1.png",)), None, dry_run=False)
    assert not any("segment" in t for t in texts(blocks))


def test_dry_run_note() -> None:
    blocks = parent_blocks(make_draft(), None, dry_run=True)
    assert blocks[-1] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "SMS: 1 segment, GSM-7 (5/160) · Dry run: nothing is sent to Sociocs.",
                "verbatim": True,
            }
        ],
    }
    whatsapp = parent_blocks(make_draft(provider=Provider.GSWA), None, dry_run=True)
    assert whatsapp[-1]["elements"][0]["text"] == "Dry run: nothing is sent to Sociocs."
    assert not any("Dry run" in t for t in texts(parent_blocks(make_draft(), None, dry_run=False)))


@pytest.mark.parametrize(
    "text",
    [
        "x" * 4096,
        "word " * 819,
        "&" * 4096,  # each becomes "&amp;": five times longer once escaped
        "<" * 1600,
        "\n" * 4000,  # each empty line is quoted as ">"
        "a\n" * 2048,
        ("&<>" * 10 + "\n") * 130,
        "😀" * 4096,
    ],
)
def test_long_text_is_split_into_sections_within_slack_limit(text: str) -> None:
    blocks = parent_blocks(make_draft(provider=Provider.GSWA, text=text), "U1", dry_run=False)
    for section in sections(blocks):
        assert len(section) <= SLACK_SECTION_LIMIT
    assert len(sections(blocks)) >= 3  # the summary and at least two quote sections
    assert_quotes(blocks, text)


def test_long_text_sections_are_quoted_and_in_order() -> None:
    text = "".join(f"line {i:04d} {'=' * 40}\n" for i in range(200)).strip()
    blocks = parent_blocks(make_draft(provider=Provider.TWLOWA, text=text), None, dry_run=False)
    quotes = sections(blocks)[1:]
    assert len(quotes) >= 3
    assert all(len(q) <= SLACK_SECTION_LIMIT for q in quotes)
    assert all(line.startswith("> line ") for q in quotes for line in q.split("\n"))
    assert "\n".join(quotes).replace("> ", "") == text


def test_long_media_urls_are_split_within_slack_limit() -> None:
    urls = tuple(f"https://x.test/{i}?" + "k=v&" * 500 for i in range(10))
    blocks = parent_blocks(make_draft(text="", image_urls=urls), None, dry_run=False)
    media = [s for s in sections(blocks)[1:]]
    assert all(len(s) <= SLACK_SECTION_LIMIT for s in media)
    joined = "\n".join(media)
    assert joined.count("Image: ") == 10
    assert "<" not in joined
    assert decode(joined.replace("\n", "")).replace("Image: ", "\n").split("\n")[1:] == list(urls)


@settings(max_examples=100)
@given(
    text=st.lists(
        st.sampled_from(["a", "bc ", " ", "\n", "&", "<", ">", "😀", "é", "<!channel>", "<@U1>"]), max_size=1500
    ).map("".join),
    provider=st.sampled_from(list(Provider)),
    dry_run=st.booleans(),
)
def test_parent_blocks_properties(text: str, provider: Provider, dry_run: bool) -> None:
    blocks = parent_blocks(make_draft(provider=provider, text=text), "U42", dry_run=dry_run)
    everything = json.dumps(blocks, ensure_ascii=False)
    assert re.findall(r"<[^<>]*>", everything) == ["<@U42>"]
    for t in texts(blocks):
        assert len(t) <= SLACK_SECTION_LIMIT
    if text:
        assert_quotes(blocks, text)
    assert any("SMS:" in t for t in texts(blocks)) == (provider.is_sms and bool(text))
    assert any("Dry run" in t for t in texts(blocks)) == dry_run


# --- help ----------------------------------------------------------------------------------------------


def test_help_text_lists_configured_providers_and_limits() -> None:
    text = help_text({Provider.TWLO: "k", Provider.GSWA: "k"}, Provider.TWLO, Provider.GSWA, 7)
    assert text.startswith(
        "*Send an SMS or WhatsApp message:* "
        "`/sms [PROVIDER] RECIPIENTS [--name NAME] [--image URL]... [--video URL] [--file URL]"
        " [--template NAME] [--at WHEN] [--save] MESSAGE`\n"
    )
    assert "sends with the default provider (SMS (Twilio))." in text
    assert "`whatsapp`/`wa` (WhatsApp (Gupshup))" in text
    assert "(at most 7)" in text
    assert "Providers here: `twlo` SMS (Twilio), `gswa` WhatsApp (Gupshup)." in text


def test_help_text_without_providers() -> None:
    text = help_text({}, None, Provider.TWLOWA, 10)
    assert "Providers here: none configured yet." in text
    assert "sends with the default provider." in text
