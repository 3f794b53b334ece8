"""Nothing a person or a customer writes can mention anyone (issue 10, item 8).

A name, a message or a Sociocs contact called `@here` is shown literally: every mrkdwn text holding
user- or customer-supplied text is verbatim and escaped, and the bare words `@here`, `@channel` and
`@everyone` are broken with a zero-width joiner so that even a context Slack parses cannot ping. The
Slack stand-in refuses any post that could ping (`invalid_blocks`), and conftest fails the test.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from bot.domain.draft import Draft, DraftError, Problem
from bot.domain.outcome import Outcome
from bot.domain.phone import PhoneNumber
from bot.domain.providers import Provider
from bot.slack.messages import (
    customer_blocks,
    history_text,
    outcome_blocks,
    outcome_text,
    parent_blocks,
    problems_text,
    summary_text,
)
from bot.slack.text import shown
from bot.slack.views import refusal_view
from bot.sociocs.webhooks import IncomingMessage
from bot.standins import SlackStandin
from bot.standins.slack import mention_refusal
from tests.conftest import BOT_TOKEN, RunningBot, new_number, wait_outcome

PINGS = ("@here", "@channel", "@everyone", "<!here>", "<!channel>", "<!everyone>")
HOSTILE = "@here @Channel @everyone <!here> <!channel|c> &lt;!everyone&gt;"
US = PhoneNumber("+16175551212", "US")
_BARE = re.compile(r"@(here|channel|everyone)", re.IGNORECASE)
_USER_WORD = re.compile(r"@\u200d?(here|channel|everyone)|&lt;!", re.IGNORECASE)  # the hostile strings, shown


def mrkdwn_texts(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if isinstance(node, dict):
        found = [node] if node.get("type") == "mrkdwn" else []
        return found + [t for v in node.values() if isinstance(v, list | dict) for t in mrkdwn_texts(v)]
    return []


def assert_cannot_ping(blocks: Any, *fallbacks: str) -> None:
    """No bare ping word or ping markup anywhere, and the texts holding user words are verbatim."""
    for obj in mrkdwn_texts(blocks):
        text = obj["text"]
        assert not _BARE.search(text) and "<!" not in text.replace("<!date^", ""), text
        if _USER_WORD.search(text):
            assert obj.get("verbatim") is True, obj
    for text in fallbacks:
        assert not _BARE.search(text) and "<!here" not in text and "<!channel" not in text, text


# --- the rendering helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["@here", "@channel", "@everyone", "@HERE", "@Channel"])
def test_shown_breaks_channel_pings_and_escapes(word: str) -> None:
    out = shown(f"hi {word} <!here> & you")
    assert not _BARE.search(out)
    assert "\u200d" in out and word[1:] in out
    assert out.endswith("&lt;!here&gt; &amp; you")
    assert shown("mail jane@example.com or @jane") == "mail jane@example.com or @jane"


def test_summary_with_a_hostile_name_and_text() -> None:
    draft = Draft(provider=Provider.TWLO, recipients=(US,), text=HOSTILE, name=HOSTILE)
    blocks = parent_blocks(draft, "U0SENDER", dry_run=False)
    assert_cannot_ping(blocks, summary_text(draft, "U0SENDER"))
    assert "<@U0SENDER>" in blocks[0]["text"]["text"]  # the sender is still named as a mention


def test_customer_message_with_a_hostile_name_and_text() -> None:
    message = IncomingMessage.model_validate(
        {
            "event": "message",
            "message_id": "IN1",
            "provider": "twlo",
            "channel_key": "ck",
            "from": "16175551212",
            "text": HOSTILE,
            "name": HOSTILE,
            "image_urls": ["https://x.test/@here.png"],
        }
    )
    for new_thread in (True, False):
        fallback, blocks = customer_blocks(message, Provider.TWLO, new_thread=new_thread)
        assert_cannot_ping(blocks, fallback)


def test_sociocs_and_provider_text_in_outcomes_and_history() -> None:
    outcome = Outcome.failed(HOSTILE, http_status=400)
    line = outcome_text(US, None, outcome)
    assert_cannot_ping(outcome_blocks(line, "s1", outcome), line)
    assert_cannot_ping([], history_text([(0.0, "+16175551212", "SMS", "failed", HOSTILE)]))


def test_problems_and_refusals_cannot_ping() -> None:
    text = problems_text(DraftError([Problem("to", f"{HOSTILE} is not a phone number.")]))
    assert_cannot_ping([], text)
    assert_cannot_ping(refusal_view([f"{HOSTILE} may not be used"])["blocks"])


# --- the Slack stand-in refuses what could ping -------------------------------------------------------


@pytest.mark.parametrize("ping", PINGS)
def test_standin_refuses_a_non_verbatim_ping(ping: str) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"hi {ping}"}}]
    assert mention_refusal("chat.postMessage", {"blocks": blocks})["error"] == "invalid_blocks"  # type: ignore[index]
    assert mention_refusal("chat.update", {"blocks": json.dumps(blocks)}) is not None
    context = [{"type": "context", "elements": [{"type": "mrkdwn", "text": ping}]}]
    assert mention_refusal("chat.postEphemeral", {"blocks": context}) is not None


def test_standin_accepts_verbatim_words_and_escaped_markup() -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "@here &lt;!channel&gt;", "verbatim": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "@\u200dhere and <@U0SENDER>"}},
        {"type": "section", "text": {"type": "plain_text", "text": "@here"}},
    ]
    assert mention_refusal("chat.postMessage", {"blocks": blocks, "text": "x"}) is None
    verbatim_markup = [{"type": "section", "text": {"type": "mrkdwn", "text": "<!here>", "verbatim": True}}]
    assert mention_refusal("chat.postMessage", {"blocks": verbatim_markup}) is not None
    assert mention_refusal("chat.postMessage", {"text": "<!channel> hi"}) is not None


def test_standin_answers_invalid_blocks_over_http(slack: SlackStandin, request: pytest.FixtureRequest) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "@channel"}}]
    answer = httpx.post(
        slack.api_url + "chat.postMessage",
        json={"channel": "C0GENERAL", "text": "x", "blocks": blocks},
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
    ).json()
    assert answer == {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {"messages": ["could mention: @channel"]},
    }
    # This test made the refused call on purpose: take it out of the record conftest checks.
    slack.calls[-1].response.clear()


# --- end to end ----------------------------------------------------------------------------------------


def test_a_name_of_at_here_and_pings_in_the_text_cannot_ping(bot: RunningBot, slack: SlackStandin):
    number = new_number()
    assert bot.command(f'{number} --name "@here" Hi <!channel> and @everyone').status_code == 200
    parent, reply = wait_outcome(slack, number)
    assert_cannot_ping(parent.args["blocks"], parent.args["text"])
    assert "@\u200dhere" in parent.args["text"] and "@\u200dhere" in json.dumps(
        parent.args["blocks"], ensure_ascii=False
    )
    assert parent.args.get("link_names") in (False, "0", "false")
    assert "Sent to" in reply.args["text"]


def test_a_private_fallback_with_a_hostile_name_cannot_ping(bot: RunningBot, slack: SlackStandin):
    number = new_number()
    name = f"private-{number}"
    bot.command(f'{number} --name "@channel" hello', channel="G0PRIVATE", response_name=name)
    (told,) = slack.wait_for(lambda calls: [c for c in calls if c.method == "response_url" and c.path == name])
    assert_cannot_ping(told.args.get("blocks"), told.args["text"])
    assert "@\u200dchannel" in told.args["text"]


def test_compose_form_shows_typed_characters_verbatim() -> None:
    from bot.slack.views import Prefill
    from tests.test_views import build

    view = build(Prefill(text="@here 😀 <!channel> ✓", name="@everyone"))
    segments = [o for o in mrkdwn_texts(view["blocks"]) if "UCS-2" in o["text"]]
    assert segments and all(o.get("verbatim") is True for o in segments)
    assert_cannot_ping(view["blocks"])
