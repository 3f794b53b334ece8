"""`/sms` end to end: signed requests into the running bot, checked at the Slack and Sociocs stand-ins.

Settings that only change what the listeners and the send service do (dry run, number types, a default
region, a wrong key, an unreachable or slow Sociocs, Retry under new settings) are tested in process, in
tests/unit/test_listeners.py.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from bot.slack.messages import USAGE
from standins import SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import (
    API_KEY,
    CHANNEL_KEYS,
    SECRETS,
    RunningBot,
    everything_about,
    new_number,
    parents_for,
    replies_for,
    settle,
    sign,
    wait_outcome,
)


def sociocs_bodies(sociocs: SociocsStandin, number: str) -> list[dict[str, object]]:
    return [c.body for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number]


def retry_button(call: object) -> dict[str, object] | None:
    """The (first) Retry button of an outcome reply, if it has one: beside a line or in an actions block."""
    blocks = call.args.get("blocks") or []  # type: ignore[attr-defined]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id") == "retry_send":
                return element  # type: ignore[no-any-return]
    return None


def blocks_text(call: object) -> str:
    blocks = call.args.get("blocks")  # type: ignore[attr-defined]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False)


# The happy path -------------------------------------------------------------------------------------


def test_send_posts_summary_then_outcome_in_its_thread(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    response = bot.command(f"{number} Your order is ready", channel="C0GENERAL")
    assert response.status_code == 200
    assert response.text == ""  # acknowledged silently: the summary goes in the channel

    parent, reply = wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [
        {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": number, "text": "Your order is ready"}
    ]
    assert all(c.apikey_ok for c in sociocs.messages())
    assert parent.args["channel"] == "C0GENERAL"
    summary = blocks_text(parent)
    assert "<@U0SENDER>" in summary and number in summary and "SMS (Twilio)" in summary
    assert "> Your order is ready" in summary
    assert "1 segment, GSM-7 (19/160)" in summary
    assert reply.args["thread_ts"] == parent.response["ts"] and reply.args["channel"] == "C0GENERAL"
    assert re.search(r"Sent to \+1617555\d{4}\. Sociocs message id `SM\d{8}`", reply.args["text"])


def test_several_recipients_one_summary_one_outcome_each(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    first, second, third = new_number(), new_number(), new_number()
    bot.command(f"{first}, {second},{third} Closed today")
    slack.wait_for(lambda calls: all(replies_for(calls, n) for n in (first, second, third)))
    parents = parents_for(slack.calls, first)
    assert len(parents) == 1 and second in parents[0].args["text"] and third in parents[0].args["text"]
    for number in (first, second, third):
        assert sociocs_bodies(sociocs, number) == [
            {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": number, "text": "Closed today"}
        ]
        (reply,) = replies_for(slack.calls, number)
        assert "Sent to" in reply.args["text"]


def test_numbers_as_people_type_and_paste_them(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    digits = number[1:]
    spaced = f"+1 ({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    bot.command(f"{spaced} 2 for 1 today")
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["text"] == "2 for 1 today"

    number = new_number()
    bot.command(f"<tel:{number}|+1 {number[2:5]}-{number[5:8]}-{number[8:]}> wrapped by Slack")
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["text"] == "wrapped by Slack"

    number = new_number()
    bot.command(f"00{number[1:]} international prefix instead of plus")
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["to"] == number


def test_slack_escaping_is_decoded_before_it_reaches_the_customer(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    text = (
        "Tom &amp; Jerry &lt;3\nSee <https://example.com/a?b=1&amp;c=2|our page> or "
        "<mailto:help@example.com|help@example.com>, call <tel:+16175550000|617-555-0000>. "
        "<!here> <@U0SENDER|jane.sender> <@U0OTHER> <#C0SUPPORT|support> <#C0GENERAL> 😀"
    )
    bot.command(f"{number} {text}")
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["text"] == (
        "Tom & Jerry <3\nSee https://example.com/a?b=1&c=2 or help@example.com, call 617-555-0000. "
        "@here @jane.sender @omar #support #general 😀"
    )


def test_user_text_is_escaped_when_echoed_so_it_cannot_ping(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    bot.command(f"{number} &lt;!channel&gt; and <!channel> and &lt;@U0OTHER&gt; &amp;amp;")
    parent, _ = wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["text"] == "<!channel> and @channel and <@U0OTHER> &amp;"
    posted = blocks_text(parent) + parent.args["text"]
    assert "<!channel>" not in posted and "<@U0OTHER>" not in posted
    assert "&lt;!channel&gt; and @\u200dchannel and &lt;@U0OTHER&gt; &amp;amp;" in posted
    assert parent.args.get("link_names") in (False, "0", "false", None)


def test_name_images_and_file_map_to_the_seed_fields(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    bot.command(
        f"{number} --name “Jane Doe” --image <https://cdn.example.com/a.png> "
        "--image https://cdn.example.com/b.png --file <https://cdn.example.com/menu.pdf|menu.pdf> Here you go"
    )
    parent, _ = wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"][0],
            "to": number,
            "name": "Jane Doe",
            "text": "Here you go",
            "image_urls": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"],
            "file_url": "https://cdn.example.com/menu.pdf",
        }
    ]
    summary = blocks_text(parent)
    assert "Jane Doe" in summary and "https://cdn.example.com/menu.pdf" in summary

    number = new_number()
    bot.command(f'{number} --name "Ann" --image https://cdn.example.com/one.png')
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"][0],
            "to": number,
            "name": "Ann",
            "image_url": "https://cdn.example.com/one.png",
        }
    ]


def test_whatsapp_keyword_uses_the_whatsapp_provider(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    bot.command(f"WhatsApp {number} Hola 👋")
    parent, reply = wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number) == [
        {"provider": "twlowa", "channel_key": CHANNEL_KEYS["twlowa"][0], "to": number, "text": "Hola 👋"}
    ]
    assert "WhatsApp (Twilio)" in blocks_text(parent)
    assert "segment" not in blocks_text(parent)
    assert "Sent to" in reply.args["text"]


def test_emoji_turns_sms_into_ucs2_and_the_summary_says_so(bot: RunningBot, slack: SlackStandin):
    number = new_number()
    bot.command(f"sms {number} Thanks 😀")
    parent, _ = wait_outcome(slack, number)
    assert "1 segment, UCS-2 (9/70); UCS-2 because of 😀" in blocks_text(parent)


# Bad input: a clear private answer, nothing sent, nothing posted ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{n}0000 hello", "too long"),
        ("+1617555 hello", "+1617555 is too short"),
        ("+999 123 456 hello", "country code"),
        ("{n} --image ftp://example.com/a.png hi", "is not an http(s) link"),
        ("{n} --file", "--file needs a value"),
        ("{n} --colour red hi", "Unknown option --colour"),
        ("{n} --file https://a.example/x.pdf --file https://a.example/y.pdf hi", "Only one --file"),
        ("gswa {n} hello", "SOCIOCS_CHANNEL_KEY_GSWA"),
        ("@hello there", "is not a phone number"),
        ("{n} " + "x" * 1601, "takes at most 1600"),
    ],
)
def test_bad_input_is_answered_privately_and_nothing_happens(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, text: str, expected: str
):
    number = new_number()
    response = bot.command(text.format(n=number))
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert expected in reply["text"]
    settle(bot, slack)
    assert everything_about(slack, sociocs, number) == []


def test_too_many_recipients_is_refused(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    numbers = [new_number() for _ in range(11)]
    response = bot.command(", ".join(numbers) + " hi all")
    assert "11 recipients is too many: at most 10" in response.json()["text"]
    settle(bot, slack)
    assert all(everything_about(slack, sociocs, n) == [] for n in numbers)


def test_national_number_needs_a_region(bot: RunningBot):
    response = bot.command("(617) 555-0199 hi")
    assert "country code" in response.json()["text"] and "DEFAULT_REGION" in response.json()["text"]


@pytest.mark.parametrize(
    "written", ["(323) 555-0149", "201-555-0150", "16175550149", "<tel:3235550149|(323) 555-0149>"]
)
def test_without_default_region_numbers_without_country_code_are_refused(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, written: str
):
    # Once read as Belgian (+32 …) and Egyptian (+20 …) numbers and sent abroad.
    text = bot.command(f"{written} hi").json()["text"]
    assert "has no country code: write it with + and the country code, like +1 617 555 1212" in text
    assert "DEFAULT_REGION" in text
    settle(bot, slack)
    for sent in ("+3235550149", "+2015550150", "+16175550149", "+13235550149"):
        assert everything_about(slack, sociocs, sent) == []


def test_international_prefix_00_is_read_as_plus(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    bot.command(f"00{number[1:]} via 00")
    wait_outcome(slack, number)
    assert sociocs_bodies(sociocs, number)[0]["to"] == number


@pytest.mark.parametrize(
    ("written", "e164", "words"),
    [
        ("+1 900 555 1212", "+19005551212", "a premium-rate number"),
        ("+44 909 879 0000", "+449098790000", "a premium-rate number"),
        ("+870 772 001 799", "+870772001799", "a satellite or international network number"),
    ],
)
def test_premium_and_satellite_numbers_are_refused(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, written: str, e164: str, words: str
):
    text = bot.command(f"{written} win a prize").json()["text"]
    assert f"{e164} is {words}, which this bot does not text" in text and "ALLOWED_NUMBER_TYPES" in text
    settle(bot, slack)
    assert everything_about(slack, sociocs, e164) == []


@pytest.mark.parametrize("text", ["help", "HELP", "?"])
def test_help_and_empty_command_answer_with_the_grammar(bot: RunningBot, text: str):
    reply = bot.command(text).json()
    assert reply["response_type"] == "ephemeral"
    assert f"`{USAGE}`" in reply["text"]
    assert "`twlo` SMS (Twilio), `twlowa` WhatsApp (Twilio)" in reply["text"]


# Sociocs failures: reported as what they are, never as success -------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(400, error_body("Invalid channel_key.")),
            ["Not sent", "“Invalid channel_key.”", "(HTTP 400)", "fix what it says"],
        ),
        (Reply(500, error_body("Internal error.")), ["Outcome unknown", "(HTTP 500)", "may or may not have been sent"]),
        (Reply(503, None), ["Outcome unknown", "(HTTP 503)", "check Sociocs before resending"]),
        (
            Reply(200, {"status": "error", "errors": [{"msg": "Number is blocked."}]}),
            ["Not sent", "“Number is blocked.”"],
        ),
        (Reply(200, {"status": "success"}), ["Outcome unknown", "without a message id"]),
        (Reply(200, "not json at all"), ["Outcome unknown", "could not be read"]),
    ],
)
def test_sociocs_errors_are_reported_with_what_to_do(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, reply: Reply, expected: list[str]
):
    number = new_number()
    sociocs.script(number, reply)
    bot.command(f"{number} will this work")
    _, outcome = wait_outcome(slack, number)
    for phrase in expected:
        assert phrase in outcome.args["text"]
    assert "Sent to" not in outcome.args["text"]
    assert len(sociocs_bodies(sociocs, number)) == 1  # never retried on its own
    assert retry_button(outcome) is not None


def test_rate_limited_then_accepted_is_sent_once_and_reported_sent(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    sociocs.script(number, Reply(429, error_body("Rate limit reached."), headers={"Retry-After": "1"}))
    bot.command(f"{number} patience")
    _, outcome = wait_outcome(slack, number)
    assert "Sent to" in outcome.args["text"]
    assert len(sociocs_bodies(sociocs, number)) == 2  # the 429 was not a send; the retry was
    assert len(replies_for(slack.calls, number)) == 1


def test_rate_limited_three_times_gives_up_and_offers_retry(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    limited = Reply(429, error_body("Rate limit reached."), headers={"Retry-After": "0.2"})
    sociocs.script(number, limited, limited, limited)
    bot.command(f"{number} still busy")
    _, outcome = wait_outcome(slack, number)
    text = outcome.args["text"]
    assert "Not sent" in text and "(HTTP 429)" in text and "try again shortly" in text
    assert len(sociocs_bodies(sociocs, number)) == 3
    assert retry_button(outcome) is not None


def test_ack_comes_back_before_a_slow_sociocs_answers(bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    number = new_number()
    sociocs.script(number, Reply(delay=1.0))  # an acknowledgement takes milliseconds
    response = bot.command(f"{number} take your time")
    assert response.status_code == 200
    # When Slack got its answer, the bot had not yet heard back from Sociocs.
    assert replies_for(slack.calls, number) == []
    _, outcome = wait_outcome(slack, number)
    assert "Sent to" in outcome.args["text"]


# Where the outcome goes when the bot cannot post ------------------------------------------------------------


@pytest.mark.parametrize("channel", ["G0PRIVATE", "C0NOTIN"])
def test_outcome_goes_privately_when_the_bot_cannot_post_there(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, channel: str
):
    number = new_number()
    bot.command(f"{number} private hello", channel=channel, response_name=f"private-{number}")
    private = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "response_url" and c.path == f"private-{number}"]
    )
    assert len(sociocs_bodies(sociocs, number)) == 1  # still sent
    message = private[0].args
    assert message["response_type"] == "ephemeral"
    assert number in message["text"] and "Sent to" in message["text"] and "Invite <@U0BOT>" in message["text"]
    assert replies_for(slack.calls, number) == []


# Slack request signing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
        sign("something else entirely"),
        "stale",
        "wrong-secret",
    ],
)
def test_unsigned_or_badly_signed_requests_get_401_and_nothing_happens(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin, headers: object
):
    number = new_number()
    from urllib.parse import urlencode

    body = urlencode(
        {
            "command": "/sms",
            "text": f"{number} hi",
            "channel_id": "C0GENERAL",
            "user_id": "U0SENDER",
            "team_id": "T0STANDIN",
            "response_url": slack.response_url("x"),
            "trigger_id": "t",
        }
    )
    if headers == "stale":
        headers = sign(body, timestamp=int(time.time()) - 6 * 60)
    elif headers == "wrong-secret":
        headers = sign(body, secret="not-the-signing-secret")
    response = bot.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
    )
    assert response.status_code == 401
    settle(bot, slack)
    assert everything_about(slack, sociocs, number) == []


# Health and logs -------------------------------------------------------------------------------------------


def test_health_and_readiness(bot: RunningBot):
    assert httpx.get(f"{bot.url}/healthz").status_code == 200
    ready = httpx.get(f"{bot.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_logs_hold_no_secret_and_no_full_number(bot: RunningBot, slack: SlackStandin):
    number = new_number()
    bot.command(f"{number} log check")
    wait_outcome(slack, number)
    logs = bot.logs()
    assert f"{number[:5]}***{number[-4:]}" in logs
    assert number not in logs
    for secret in (*SECRETS, API_KEY):
        assert secret not in logs


def test_sigterm_lets_a_send_in_flight_finish(make_bot, slack: SlackStandin, sociocs: SociocsStandin):
    stopping = make_bot(SHUTDOWN_GRACE_SECONDS="10")
    number = new_number()
    sociocs.script(number, Reply(delay=1.5))
    stopping.command(f"{number} almost closing time")
    sociocs.wait_for(lambda calls: [c for c in calls if isinstance(c.body, dict) and c.body.get("to") == number])
    assert stopping.stop() == 0
    assert "Sent to" in replies_for(slack.calls, number)[0].args["text"]
