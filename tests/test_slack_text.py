"""Slack's message markup: decoding what Slack sends, escaping what the bot echoes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.text import decode, escape, references, unescape_entities, unwrap

# --- entities --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("a &amp; b", "a & b"),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
        ("&lt;3 you", "<3 you"),
        ("&amp;lt;", "&lt;"),  # a literal "&lt;" typed by the person stays literal
        ("&amp;amp;", "&amp;"),
        ("&amp;gt;&amp;", "&gt;&"),
        ("fish &amp; chips &lt;b&gt;", "fish & chips <b>"),
        ("no entities here", "no entities here"),
        ("&quot; &#39; &nbsp;", "&quot; &#39; &nbsp;"),  # Slack only uses three entities
    ],
)
def test_decode_entities(raw: str, plain: str) -> None:
    assert decode(raw) == plain
    assert unescape_entities(raw) == plain


# --- links, phone numbers, e-mail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("<https://example.com|label>", "https://example.com"),
        ("<https://example.com>", "https://example.com"),
        ("see <https://example.com/a?b=1&amp;c=2|here> now", "see https://example.com/a?b=1&c=2 now"),
        ("<http://x.test/path|x.test/path>", "http://x.test/path"),
        ("<tel:+16175551212|+1 617-555-1212>", "+1 617-555-1212"),
        ("<tel:+16175551212>", "+16175551212"),
        ("call <tel:6175551212|(617) 555-1212> today", "call (617) 555-1212 today"),
        ("<mailto:a@b.c|a@b.c>", "a@b.c"),
        ("<mailto:a@b.c>", "a@b.c"),
        ("write to <mailto:jane@example.com|Jane@Example.com>", "write to Jane@Example.com"),
    ],
)
def test_decode_links(raw: str, plain: str) -> None:
    assert decode(raw) == plain


def test_link_label_never_hides_the_url() -> None:
    assert decode("<https://evil.example/x|https://bank.example>") == "https://evil.example/x"


# --- mentions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("<!here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!here|here>", "@here"),
        ("<!channel|@channel>", "@channel"),
        ("hi <!here> all", "hi @here all"),
        ("<!subteam^S1|@team>", "@team"),
        ("<!subteam^S0123ABC|@support-team>", "@support-team"),
        ("<!subteam^S1>", "@S1"),
        ("<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"),
        ("<@U1|jane>", "@jane"),
        ("<@U1|@jane>", "@jane"),
        ("<@U1>", "@U1"),
        ("<@W012ABC>", "@W012ABC"),
        ("<#C1|general>", "#general"),
        ("<#C1|#general>", "#general"),
        ("<#C1>", "#C1"),
    ],
)
def test_decode_mentions(raw: str, plain: str) -> None:
    assert decode(raw) == plain


def test_decode_uses_names_for_unlabelled_references() -> None:
    names = {"U1": "Jane Doe", "C1": "general"}
    assert decode("<@U1> in <#C1>", names) == "@Jane Doe in #general"
    # A label wins over the lookup.
    assert decode("<@U1|jd>", names) == "@jd"
    # An id missing from the mapping falls back to the id.
    assert decode("<@U2> <#C2>", names) == "@U2 #C2"
    assert decode("<@U1>", {}) == "@U1"
    assert decode("<@U1>", None) == "@U1"


def test_decode_mixed_message() -> None:
    raw = (
        "Hi <@U1>, &lt;urgent&gt;: see <https://x.test/o?id=1&amp;k=2|your order> "
        "or call <tel:+16175551212|617-555-1212> &amp; ask <!subteam^S9|@support> in <#C7|help>"
    )
    assert decode(raw, {"U1": "Jane"}) == (
        "Hi @Jane, <urgent>: see https://x.test/o?id=1&k=2 or call 617-555-1212 & ask @support in #help"
    )


def test_decode_keeps_whitespace_newlines_and_emoji() -> None:
    raw = "  line one\n\n\tline  two 😀 :tada:  "
    assert decode(raw) == raw


def test_decode_leaves_unpaired_brackets_alone() -> None:
    assert decode("x <y") == "x <y"
    assert decode("a > b") == "a > b"


def test_unwrap_a_single_token() -> None:
    assert unwrap("<https://x.test/a.png|a.png>") == "https://x.test/a.png"
    assert unwrap("<tel:+16175551212|+1 617-555-1212>") == "+1 617-555-1212"
    assert unwrap("https://x.test/?a=1&amp;b=2") == "https://x.test/?a=1&b=2"
    assert unwrap("+16175551212") == "+16175551212"


# --- escape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U1>", "&lt;@U1&gt;"),
        ("&amp;", "&amp;amp;"),
        ("&lt;", "&amp;lt;"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def test_escaped_mention_decodes_to_the_literal_text() -> None:
    assert decode(escape("<!channel> & <@U1|x>")) == "<!channel> & <@U1|x>"


@settings(max_examples=500)
@given(st.text())
def test_decode_of_escape_is_identity(text: str) -> None:
    assert decode(escape(text)) == text


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("<>&;ltgamp!@#|^ x")))
def test_decode_of_escape_is_identity_on_markup_like_text(text: str) -> None:
    assert decode(escape(text)) == text


@settings(max_examples=500)
@given(st.text())
def test_escape_never_leaves_brackets(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert references(escaped) == (set(), set())


@settings(max_examples=300)
@given(st.text())
def test_every_ampersand_in_escaped_text_starts_an_entity(text: str) -> None:
    escaped = escape(text)
    positions = [i for i, ch in enumerate(escaped) if ch == "&"]
    for i in positions:
        assert escaped.startswith(("&amp;", "&lt;", "&gt;"), i)


# --- references -------------------------------------------------------------------------------------


def test_references_lists_only_unlabelled_ids() -> None:
    users, channels = references("<@U1> <@U2|jane> <#C1> <#C2|general> <!here> <https://x.test> <@U3>")
    assert users == {"U1", "U3"}
    assert channels == {"C1"}


def test_references_empty() -> None:
    assert references("") == (set(), set())
    assert references("no markup &lt;@U1&gt;") == (set(), set())


def test_references_deduplicates() -> None:
    assert references("<@U1> <@U1> <#C1> <#C1>") == ({"U1"}, {"C1"})
