"""The `/sms` grammar (see `bot.slack.messages.USAGE`)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.providers import Provider
from bot.slack.command import (
    BlockRequest,
    ComposeRequest,
    HelpRequest,
    HistoryRequest,
    Parsed,
    SendRequest,
    UsageError,
    parse_command,
)
from bot.slack.text import decode, escape

N1 = "+16175551212"
N2 = "+16175551213"


def parse(text: str, *, whatsapp: Provider = Provider.TWLOWA, region: str | None = None) -> Parsed:
    return parse_command(text, whatsapp_provider=whatsapp, default_region=region)


def send(text: str, **kwargs: object) -> SendRequest:
    result = parse(text, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, SendRequest), result
    return result


def usage_error(text: str, **kwargs: object) -> str:
    with pytest.raises(UsageError) as info:
        parse(text, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --- help and compose ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["help", "HELP", "Help", "?", "-h", "--help", "  help  ", "help me please"])
def test_help(text: str) -> None:
    assert parse(text) == HelpRequest()


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_opens_the_form(text: str) -> None:
    assert parse(text) == ComposeRequest()


def test_number_without_message_opens_the_form_with_recipients() -> None:
    assert parse(N1) == ComposeRequest(provider=None, recipients=(N1,), name=None)
    assert parse(f"{N1}, {N2}") == ComposeRequest(recipients=(N1, N2))
    assert parse(f"{N1} --name Jane") == ComposeRequest(recipients=(N1,), name="Jane")
    assert parse(f"{N1} --") == ComposeRequest(recipients=(N1,))
    assert parse(f"{N1}   \n ") == ComposeRequest(recipients=(N1,))


def test_at_without_a_message_opens_the_form_and_keeps_when_as_typed() -> None:
    assert parse(f'{N1} --at "tomorrow 9am"') == ComposeRequest(recipients=(N1,), send_at="tomorrow 9am")
    assert parse(f"wa {N1} --name Jane --at 09:00") == ComposeRequest(
        provider=Provider.TWLOWA, recipients=(N1,), name="Jane", send_at="09:00"
    )
    assert parse(f'{N1} --at "in 2h" --') == ComposeRequest(recipients=(N1,), send_at="in 2h")
    assert parse(N1) == ComposeRequest(recipients=(N1,), send_at=None)


def test_save_without_a_message_opens_the_form_and_keeps_save() -> None:
    assert parse(f"{N1} --save") == ComposeRequest(recipients=(N1,), save=True)
    assert parse(f'{N1} --name "Jane Doe" --save --at 09:00') == ComposeRequest(
        recipients=(N1,), name="Jane Doe", send_at="09:00", save=True
    )
    assert parse(f"wa {N1} --save --") == ComposeRequest(provider=Provider.TWLOWA, recipients=(N1,), save=True)
    assert parse(N1) == ComposeRequest(recipients=(N1,), save=False)


def test_provider_alone_opens_the_form_with_provider() -> None:
    assert parse("wa") == ComposeRequest(provider=Provider.TWLOWA)
    assert parse("sms") == ComposeRequest(provider=Provider.TWLO)
    assert parse(f"gswa {N1}") == ComposeRequest(provider=Provider.GSWA, recipients=(N1,))


# --- provider words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "whatsapp", "provider"),
    [
        ("sms", Provider.TWLOWA, Provider.TWLO),
        ("SMS", Provider.TWLOWA, Provider.TWLO),
        ("twlo", Provider.GSWA, Provider.TWLO),
        ("Twlo", Provider.GSWA, Provider.TWLO),
        ("twlowa", Provider.GSWA, Provider.TWLOWA),
        ("TWLOWA", Provider.GSWA, Provider.TWLOWA),
        ("gswa", Provider.TWLOWA, Provider.GSWA),
        ("GsWa", Provider.TWLOWA, Provider.GSWA),
        ("whatsapp", Provider.TWLOWA, Provider.TWLOWA),
        ("whatsapp", Provider.GSWA, Provider.GSWA),
        ("WhatsApp", Provider.GSWA, Provider.GSWA),
        ("wa", Provider.TWLOWA, Provider.TWLOWA),
        ("WA", Provider.GSWA, Provider.GSWA),
    ],
)
def test_provider_words(word: str, whatsapp: Provider, provider: Provider) -> None:
    assert send(f"{word} {N1} Hello", whatsapp=whatsapp) == SendRequest(
        recipients=(N1,), message="Hello", provider=provider
    )


def test_no_provider_word_leaves_provider_unset() -> None:
    assert send(f"{N1} Hello").provider is None


def test_provider_word_only_counts_first() -> None:
    assert send(f"{N1} sms me back").message == "sms me back"


# --- recipients ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"{N1},{N2} Closed today",
        f"{N1}, {N2} Closed today",
        f"{N1} ,{N2} Closed today",
        f"{N1} , {N2} Closed today",
        f"{N1},\n{N2} Closed today",
    ],
)
def test_comma_separated_recipients(text: str) -> None:
    assert send(text) == SendRequest(recipients=(N1, N2), message="Closed today")


def test_three_recipients_keep_their_order() -> None:
    assert send(f"{N2}, {N1}, +442079460958 hi").recipients == (N2, N1, "+442079460958")


def test_numbers_with_spaces_inside() -> None:
    assert send("+1 617 555 1212 Hello").recipients == ("+1 617 555 1212",)
    assert send("+1 (617) 555-1212 Hello") == SendRequest(recipients=("+1 (617) 555-1212",), message="Hello")
    assert send("+1 617 555 1212, +1 617 555 1213 Hello").recipients == ("+1 617 555 1212", "+1 617 555 1213")
    assert send("+44 20 7946 0958 Hello").recipients == ("+44 20 7946 0958",)


def test_national_number_with_default_region() -> None:
    assert send("(617) 555-1212 Hello", region="US") == SendRequest(recipients=("(617) 555-1212",), message="Hello")


def test_slack_tel_wrapper() -> None:
    assert send("<tel:+16175551212|+1 617-555-1212> Hello") == SendRequest(
        recipients=("+1 617-555-1212",), message="Hello"
    )
    assert send("<tel:+16175551212|+1 617-555-1212>, <tel:6175551213|(617) 555-1213> Hi").recipients == (
        "+1 617-555-1212",
        "(617) 555-1213",
    )
    assert send("wa <tel:+16175551212> Hi") == SendRequest(
        recipients=("+16175551212",), message="Hi", provider=Provider.TWLOWA
    )


def test_trailing_comma_is_ignored() -> None:
    assert parse(f"{N1},") == ComposeRequest(recipients=(N1,))


def test_message_starting_with_digits_is_split_from_the_number() -> None:
    assert send("+1 617 555 1212 2 for 1") == SendRequest(recipients=("+1 617 555 1212",), message="2 for 1")
    assert send(f"{N1} 2 for 1") == SendRequest(recipients=(N1,), message="2 for 1")
    assert send(f"{N1} 50% off") == SendRequest(recipients=(N1,), message="50% off")
    assert send("+1 617 555 1212 10 am tomorrow") == SendRequest(
        recipients=("+1 617 555 1212",), message="10 am tomorrow"
    )


def test_message_starting_with_digits_prefers_the_default_region() -> None:
    # With DEFAULT_REGION=US, "617 555 1212 2" must not become the Australian +61 7 5551 2122.
    assert send("617 555 1212 2 for 1", region="US") == SendRequest(recipients=("617 555 1212",), message="2 for 1")
    assert send("(617) 555-1212 3 days left", region="US") == SendRequest(
        recipients=("(617) 555-1212",), message="3 days left"
    )
    # A foreign number written in full still wins.
    assert send("+44 20 7946 0958 2 for 1", region="US") == SendRequest(
        recipients=("+44 20 7946 0958",), message="2 for 1"
    )


def test_double_dash_separates_a_digit_message() -> None:
    assert send(f"{N1} -- 1234") == SendRequest(recipients=(N1,), message="1234")


@pytest.mark.parametrize("text", ["@jane hi", "<@U1> hi", ", +16175551212 hi", "<", "--name x"])
def test_text_starting_with_neither_a_number_nor_a_name_is_a_usage_error(text: str) -> None:
    message = usage_error(text)
    assert message.startswith("Start with the phone number to send to;")
    assert "is not a phone number" in message


def test_usage_error_quotes_the_offending_word() -> None:
    assert usage_error("@hello there") == "Start with the phone number to send to; '@hello' is not a phone number."
    assert usage_error("wa <@U1> hello") == "Start with the phone number to send to; '<@U1>' is not a phone number."


# --- contact names (issue 14: a word that is not a number, or a quoted name, is looked up) -------------


@pytest.mark.parametrize(
    ("text", "numbers", "names", "message"),
    [
        ("hello there", (), ("hello",), "there"),
        ("Jane +16175551212 hi", (), ("Jane",), "+16175551212 hi"),
        ('"Jane Doe" Your order is ready', (), ("Jane Doe",), "Your order is ready"),
        ("“Jane  Doe” hi", (), ("Jane Doe",), "hi"),
        (f"jane, {N1} Closed today", (N1,), ("jane",), "Closed today"),
        (f"{N1}, jane, 'Bo Li' hi", (N1,), ("jane", "Bo Li"), "hi"),
    ],
)
def test_names_as_recipients(text: str, numbers: tuple[str, ...], names: tuple[str, ...], message: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, SendRequest)
    assert (parsed.recipients, parsed.contact_names, parsed.message) == (numbers, names, message)


def test_a_name_needs_two_characters() -> None:
    assert "at least 2 characters" in usage_error("x hello")
    assert "at least 2 characters" in usage_error('"J" hello')


def test_save_and_block_words() -> None:
    assert parse(f"{N1} --save hi") == SendRequest(recipients=(N1,), message="hi", save=True)
    assert parse(f"block {N1}") == BlockRequest(N1, True)
    assert parse(f"UNBLOCK {N1}") == BlockRequest(N1, False)
    assert "Write the number" in usage_error("block")


# --- --name -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (f"{N1} --name Jane Hi", "Jane"),
        (f'{N1} --name "Jane Doe" Hi', "Jane Doe"),
        (f"{N1} --name “Jane Doe” Hi", "Jane Doe"),
        (f"{N1} --name ”Jane Doe“ Hi", "Jane Doe"),
        (f"{N1} --name 'Jane Doe' Hi", "Jane Doe"),
        (f"{N1} --name ‘Jane Doe’ Hi", "Jane Doe"),
        (f"{N1} --NAME Jane Hi", "Jane"),
        (f"{N1} —name Jane Hi", "Jane"),
        (f"{N1} –name Jane Hi", "Jane"),
        (f"{N1} —name “Jane Doe” Hi", "Jane Doe"),
        (f"{N1} --name Zoë Hi", "Zoë"),
    ],
)
def test_name(text: str, name: str) -> None:
    assert send(text) == SendRequest(recipients=(N1,), message="Hi", name=name)


def test_name_with_ampersand_is_decoded() -> None:
    assert send(f'{N1} --name "Smith &amp; Sons" Hi').name == "Smith & Sons"


def test_name_quote_never_closed() -> None:
    message = usage_error(f'{N1} --name "Jane Doe Hi')
    assert message == "The quote opened at '\"Jane Doe Hi' is never closed."


def test_name_without_value() -> None:
    assert usage_error(f"{N1} --name") == "--name needs a value."
    assert usage_error(f"{N1} --name   ") == "--name needs a value."


def test_last_name_wins() -> None:
    assert send(f"{N1} --name A --name B Hi").name == "B"


# --- --image and --file -----------------------------------------------------------------------------


def test_repeated_image() -> None:
    result = send(f"{N1} --image https://x.test/1.png --image https://x.test/2.png Look")
    assert result == SendRequest(
        recipients=(N1,), message="Look", image_urls=("https://x.test/1.png", "https://x.test/2.png")
    )


def test_slack_wrapped_urls_are_unwrapped() -> None:
    result = send(
        f"{N1} --image <https://x.test/1.png> --image <https://x.test/2.png|2.png> "
        "--file <https://x.test/a.pdf|a.pdf> Hi"
    )
    assert result.image_urls == ("https://x.test/1.png", "https://x.test/2.png")
    assert result.file_url == "https://x.test/a.pdf"
    assert result.message == "Hi"


def test_url_entities_are_decoded() -> None:
    result = send(f"{N1} --image <https://x.test/i?a=1&amp;b=2> Hi")
    assert result.image_urls == ("https://x.test/i?a=1&b=2",)


def test_file_once() -> None:
    assert send(f"{N1} --file https://x.test/a.pdf Invoice") == SendRequest(
        recipients=(N1,), message="Invoice", file_url="https://x.test/a.pdf"
    )


def test_file_twice_is_a_usage_error() -> None:
    assert usage_error(f"{N1} --file https://x.test/a --file https://x.test/b Hi") == "Only one --file per message."


@pytest.mark.parametrize("option", ["image", "file"])
def test_media_option_without_value(option: str) -> None:
    assert usage_error(f"{N1} --{option}") == f"--{option} needs a value."
    assert usage_error(f"{N1} --{option} , x") == f"--{option} needs a value."


def test_media_only_is_a_send_with_empty_message() -> None:
    assert send(f"{N1} --image https://x.test/1.png") == SendRequest(
        recipients=(N1,), message="", image_urls=("https://x.test/1.png",)
    )
    assert send(f"{N1} --file <https://x.test/a.pdf>") == SendRequest(
        recipients=(N1,), message="", file_url="https://x.test/a.pdf"
    )


def test_all_options_together() -> None:
    result = send(
        f'gswa {N1}, {N2} --name "Jane Doe" --image https://x.test/1.png --file https://x.test/a.pdf '
        "--image https://x.test/2.png Your order"
    )
    assert result == SendRequest(
        recipients=(N1, N2),
        message="Your order",
        provider=Provider.GSWA,
        name="Jane Doe",
        image_urls=("https://x.test/1.png", "https://x.test/2.png"),
        file_url="https://x.test/a.pdf",
    )


def test_options_on_their_own_lines() -> None:
    assert send(f"{N1}\n--name Jane\n--image https://x.test/1.png\nHello\nthere") == SendRequest(
        recipients=(N1,), message="Hello\nthere", name="Jane", image_urls=("https://x.test/1.png",)
    )


# --- option ending and unknown options ---------------------------------------------------------------


def test_double_dash_ends_options() -> None:
    assert send(f"{N1} -- --name is not an option") == SendRequest(recipients=(N1,), message="--name is not an option")
    assert send(f"{N1} --name Jane -- --image x") == SendRequest(recipients=(N1,), message="--image x", name="Jane")
    assert send(f"{N1} — —dash") == SendRequest(recipients=(N1,), message="—dash")


@pytest.mark.parametrize("option", ["--bogus", "--Names", "—photo", "--to"])
def test_unknown_option_is_a_usage_error(option: str) -> None:
    message = usage_error(f"{N1} {option} x")
    assert message == (
        f"Unknown option {option}: use --name, --image, --video, --file, --template or --at "
        "(put -- before a message that starts with a dash)."
    )


@pytest.mark.parametrize("message", ["-5 degrees today", "--5 degrees", "- item one", "-", "->"])
def test_dash_messages_that_are_not_options(message: str) -> None:
    assert send(f"{N1} {message}").message == message


def test_options_after_the_message_are_message_text() -> None:
    assert send(f"{N1} Hi --name Jane").message == "Hi --name Jane"


# --- the message as typed ----------------------------------------------------------------------------


def test_message_keeps_newlines_emoji_and_inner_spacing() -> None:
    text = "Hello  Jane,\n\n  your order 🎉 is   ready.\n\tThanks :tada:"
    assert send(f"{N1} {text}").message == text


def test_message_is_stripped_at_both_ends_only() -> None:
    assert send(f"{N1}    hi   there  \n\n").message == "hi   there"


def test_message_stays_slack_markup() -> None:
    raw = "Hi <@U1>, see <https://x.test|this> &amp; <!here>"
    result = send(f"{N1} {raw}")
    assert result.message == raw
    assert decode(result.message, {"U1": "Jane"}) == "Hi @Jane, see https://x.test & @here"


def test_message_with_commas_and_quotes() -> None:
    assert send(f'{N1} Hi, "Jane", it\'s ready').message == 'Hi, "Jane", it\'s ready'


def test_message_after_newline() -> None:
    assert send(f"{N1}\nhello") == SendRequest(recipients=(N1,), message="hello")


# --- properties ------------------------------------------------------------------------------------

_pieces = st.sampled_from(
    [
        "+",
        "1",
        "617",
        "555",
        "1212",
        " ",
        "  ",
        "\n",
        ",",
        "<",
        ">",
        "|",
        "-",
        "--",
        "—",
        "–",
        '"',
        "“",
        "”",
        "'",
        "‘",
        "’",
        "(",
        ")",
        "&amp;",
        "&lt;",
        "x",
        "é",
        "😀",
        "help",
        "wa",
        "sms",
        "--name",
        "--image",
        "--file",
        "--bogus",
        "<tel:+16175551212|+1 617-555-1212>",
        "<https://x.test/a.png|a>",
        "<@U1>",
        "<!channel>",
        N1,
    ]
)
_command_like = st.lists(_pieces, max_size=25).map("".join)
_any_region = st.sampled_from([None, "US", "GB", "IN"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), _command_like), _any_region)
def test_parse_command_raises_nothing_but_usage_error(text: str, region: str | None) -> None:
    try:
        result = parse(text, region=region)
    except UsageError as exc:
        assert str(exc)
        return
    assert isinstance(result, HelpRequest | HistoryRequest | ComposeRequest | SendRequest | BlockRequest)
    if isinstance(result, SendRequest):
        assert result.recipients or result.contact_names
        assert result.message or result.image_urls or result.file_url is not None
        assert result.message == result.message.strip()


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_message_after_double_dash_round_trips(message: str) -> None:
    result = parse(f"{N1} -- " + escape(message))
    if message.strip():
        assert isinstance(result, SendRequest)
        assert result.recipients == (N1,)
        assert decode(result.message) == message.strip()
    else:
        assert result == ComposeRequest(recipients=(N1,))


@settings(max_examples=300)
@given(st.text(max_size=200).filter(lambda m: m[:1].isalpha()))
def test_message_starting_with_a_letter_round_trips_without_double_dash(message: str) -> None:
    result = parse(f"{N1} " + escape(message))
    assert isinstance(result, SendRequest)
    assert result.recipients == (N1,)
    assert decode(result.message) == message.strip()


@settings(max_examples=100)
@given(
    st.lists(st.integers(min_value=1000, max_value=9999), min_size=1, max_size=5, unique=True),
    st.sampled_from([",", ", ", " , ", ",\n"]),
)
def test_any_list_of_recipients(lines: list[int], separator: str) -> None:
    numbers = [f"+1617555{n}" for n in lines]
    result = send(separator.join(numbers) + " Hello")
    assert result.recipients == tuple(numbers)
    assert result.message == "Hello"


@pytest.mark.parametrize("text", ["history", "History", "HISTORY  "])
def test_history(text: str) -> None:
    assert parse(text) == HistoryRequest()
