"""Conversations a team works (issue 17), in process: routing per provider, assign and close, reopening,
noise control, `/sms inbox` and the Home tab, through the real Bolt app against both stand-ins."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.ledger import Conversation
from bot.slack.conversations import SlackConversations
from bot.sociocs.webhooks import IncomingMessage, parse_event
from standins import SlackCall, SlackStandin, SociocsStandin
from tests.conftest import CHANNEL_KEYS, new_channel, new_number
from tests.test_e2e_webhooks import incoming
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio


def message(number: str, text: str, *, provider: str = "twlo", name: str | None = None) -> IncomingMessage:
    body = incoming(number, text, f"IN{time.monotonic_ns()}", name=name)
    body["provider"], body["channel_key"] = provider, CHANNEL_KEYS[provider][0]
    parsed = parse_event(body)
    assert isinstance(parsed, IncomingMessage)
    return parsed


async def customer_writes(app: AppUnderTest, number: str, text: str, **kw: Any) -> None:
    """A customer's message as the webhook hands it over: recorded, then placed."""
    msg = message(number, text, **kw)
    assert await app.bot.conversations.receive(msg)
    await app.bot.conversations.place(msg, SlackConversations(app.bot))


async def conversation(app: AppUnderTest, number: str, provider: str = "twlo") -> Conversation:
    found = await app.bot.ledger.conversation(provider, CHANNEL_KEYS[provider][0], number)
    assert found is not None
    return found


def press(action_id: str, conv: Conversation, user: str, response_url: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": user, "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": f"t.{time.monotonic_ns()}",
        "response_url": response_url,
        "container": {"type": "message", "message_ts": conv.head_ts, "channel_id": conv.channel_id},
        "channel": {"id": conv.channel_id},
        "message": {"ts": conv.head_ts, "text": "x", "blocks": []},
        "actions": [{"type": "button", "action_id": action_id, "value": conv.id, "block_id": "customer_reply"}],
    }


async def pressed(app: AppUnderTest, action_id: str, conv: Conversation, user: str) -> list[SlackCall]:
    """Press a conversation button as `user`; what they were told privately."""
    name = f"press-{time.monotonic_ns()}"
    payload = press(action_id, conv, user, app.slack.response_url(name))
    acked(await app.interaction(payload))
    await app.settled()
    return app.private(name)


def head_of(app: AppUnderTest, conv: Conversation) -> dict[str, Any]:
    shown = app.slack.current(conv.channel_id, conv.head_ts)
    assert shown is not None
    return shown


def buttons(shown: dict[str, Any]) -> list[str]:
    blocks = shown["blocks"] if isinstance(shown["blocks"], list) else json.loads(shown["blocks"])
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


# Routing ----------------------------------------------------------------------------------------------------


async def test_each_provider_starts_its_conversations_in_its_own_channel(make_app):
    sms, fallback = new_channel(), new_channel()
    app = await make_app(INBOX_CHANNEL_ID_TWLO=sms, INBOX_CHANNEL_ID=fallback)
    a, b = new_number(), new_number()
    await customer_writes(app, a, "by SMS")
    await customer_writes(app, b, "by WhatsApp", provider="twlowa")
    assert [c.args.get("thread_ts") for c in app.posts(sms)] == [None]
    assert "by SMS" in json.dumps(app.posts(sms)[0].args["blocks"])
    assert [c.args.get("thread_ts") for c in app.posts(fallback)] == [None]
    assert "by WhatsApp" in json.dumps(app.posts(fallback)[0].args["blocks"])
    conv = await conversation(app, a)
    assert (conv.channel_id, conv.thread_ts, conv.head_ts) == (sms, conv.head_ts, app.posts(sms)[0].response["ts"])
    assert conv.open and conv.assignee is None
    assert buttons(head_of(app, conv)) == ["reply_sms", "assign_conversation", "close_conversation"]


async def test_a_customer_answering_a_send_starts_the_conversation_in_its_thread(make_app):
    inbox, desk = new_channel(), new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    number = new_number()
    acked(await app.command(f"{number} your table is ready", channel=desk))
    await app.settled()
    summary = app.posts(desk)[0]
    await customer_writes(app, number, "on my way")
    conv = await conversation(app, number)
    assert (conv.channel_id, conv.thread_ts) == (desk, summary.response["ts"]) and conv.head_ts != conv.thread_ts
    (head,) = [c for c in app.posts(desk) if "on my way" in json.dumps(c.args.get("blocks"))]
    assert head.args["thread_ts"] == summary.response["ts"] and head.args.get("reply_broadcast") is True
    assert buttons(head_of(app, conv)) == ["reply_sms", "assign_conversation", "close_conversation"]
    assert app.posts(inbox) == []


async def test_a_send_after_the_conversation_takes_the_customers_answer_to_its_thread(make_app):
    inbox, desk = new_channel(), new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    number = new_number()
    await customer_writes(app, number, "hi")
    old = await conversation(app, number)
    acked(await app.command(f"{number} a new offer for you", channel=desk))
    await app.settled()
    summary = app.posts(desk)[0]
    await customer_writes(app, number, "tell me more")
    new = await conversation(app, number)
    assert (new.channel_id, new.thread_ts) == (desk, summary.response["ts"]) and new.id == old.id and new.open
    head = app.slack.current(desk, new.head_ts)
    assert head is not None and f"/archives/{inbox}/p{old.thread_ts.replace('.', '')}" in json.dumps(head["blocks"])


async def test_inbox_and_home_follow_the_guardrails(make_app, slack: SlackStandin):
    app = await make_app(INBOX_CHANNEL_ID=new_channel(), ALLOWED_USER_IDS="U0SENDER")
    await customer_writes(app, new_number(), "private words")
    answer = acked(await app.command("inbox", user="U0STRANGER"))
    assert answer["response_type"] == "ephemeral" and "Nothing was sent" in answer["text"]
    acked(await app.event({"type": "app_home_opened", "user": "U0STRANGER", "channel": "D0X", "tab": "home"}))
    await app.settled()
    home = json.dumps(slack.homes["U0STRANGER"])
    assert "private words" not in home and ":no_entry:" in home


# Assign and close -------------------------------------------------------------------------------------------


async def test_assign_then_close_records_who_and_refuses_others(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox, ADMIN_USER_IDS="U0ADMIN")
    number = new_number()
    await customer_writes(app, number, "Is my order ready?")
    conv = await conversation(app, number)

    assert await pressed(app, "assign_conversation", conv, "U0SENDER") == []
    taken = await conversation(app, number)
    assert taken.assignee == "U0SENDER"
    head = head_of(app, taken)
    assert "<@U0SENDER> has it" in json.dumps(head["blocks"])
    assert buttons(head) == ["reply_sms", "close_conversation"]

    (told,) = await pressed(app, "assign_conversation", conv, "U0OTHER")
    assert "<@U0SENDER> already has this conversation" in told.args["text"]
    (told,) = await pressed(app, "close_conversation", conv, "U0OTHER")
    assert "Only <@U0SENDER>" in told.args["text"]
    assert (await conversation(app, number)).open

    assert await pressed(app, "close_conversation", conv, "U0SENDER") == []
    closed = await conversation(app, number)
    assert not closed.open and closed.closed_by == "U0SENDER"
    assert buttons(head_of(app, closed)) == ["reply_sms"]
    notes = [c.args["text"] for c in app.posts(inbox) if c.args.get("thread_ts") == conv.thread_ts]
    assert notes == [
        ":raising_hand: <@U0SENDER> took this conversation.",
        ":white_check_mark: <@U0SENDER> closed this conversation.",
    ]
    (told,) = await pressed(app, "close_conversation", conv, "U0SENDER")
    assert "already closed by <@U0SENDER>" in told.args["text"]


async def test_an_admin_closes_anyones_conversation_and_guardrails_apply(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox, ADMIN_USER_IDS="U0ADMIN", ALLOWED_USER_IDS="U0SENDER,U0ADMIN")
    number = new_number()
    await customer_writes(app, number, "hello")
    conv = await conversation(app, number)
    (told,) = await pressed(app, "assign_conversation", conv, "U0STRANGER")
    assert "Nothing was sent" in told.args["text"] and (await conversation(app, number)).assignee is None
    await pressed(app, "assign_conversation", conv, "U0SENDER")
    assert await pressed(app, "close_conversation", conv, "U0ADMIN") == []
    assert (await conversation(app, number)).closed_by == "U0ADMIN"


# Reopening --------------------------------------------------------------------------------------------------


async def test_a_closed_conversation_reopens_in_its_thread_when_the_customer_writes(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    number = new_number()
    await customer_writes(app, number, "first")
    conv = await conversation(app, number)
    await pressed(app, "close_conversation", conv, "U0SENDER")
    await customer_writes(app, number, "one more thing")
    again = await conversation(app, number)
    assert again.open and again.id == conv.id and again.thread_ts == conv.thread_ts
    in_thread = [c.args["text"] for c in app.posts(inbox) if c.args.get("thread_ts") == conv.thread_ts]
    assert "one more thing" in in_thread[-2] and "Reopened" in in_thread[-1]
    assert buttons(head_of(app, again)) == ["reply_sms", "assign_conversation", "close_conversation"]


async def test_after_the_quiet_hours_a_reopened_conversation_gets_a_new_thread_linking_the_old(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox, CONVERSATION_NEW_THREAD_HOURS="0.0001")  # 0.36 s
    number = new_number()
    await customer_writes(app, number, "first")
    old = await conversation(app, number)
    await pressed(app, "close_conversation", old, "U0SENDER")
    await asyncio.sleep(0.5)
    await customer_writes(app, number, "back again")
    new = await conversation(app, number)
    assert new.open and new.thread_ts != old.thread_ts and new.channel_id == inbox
    top = [c for c in app.posts(inbox) if c.args.get("thread_ts") is None]
    assert len(top) == 2 and "back again" in json.dumps(top[1].args["blocks"])
    assert f"/archives/{inbox}/p{old.thread_ts.replace('.', '')}" in json.dumps(top[1].args["blocks"])
    assert await app.bot.ledger.thread_for(provider="twlo", channel_key=CHANNEL_KEYS["twlo"][0], number=number) == (
        inbox,
        new.thread_ts,
    )


# Noise control ----------------------------------------------------------------------------------------------


async def test_a_burst_of_twenty_messages_is_posted_as_it_comes_but_notifies_once(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    number = new_number()
    started = time.monotonic()
    await asyncio.gather(*(customer_writes(app, number, f"message {i}") for i in range(20)))
    await app.settled()
    posts = app.posts(inbox)
    assert len(posts) == 20
    top = [c for c in posts if c.args.get("thread_ts") is None]
    assert len(top) == 1 and "message 0" in json.dumps(top[0].args["blocks"])
    assert [c for c in posts if c.args.get("reply_broadcast")] == []
    # In the order they came (one at a time per customer, as the burst arrived).
    shown = [int(re.findall(r"message (\d+)", json.dumps(c.args["blocks"]))[0]) for c in posts]
    assert shown == list(range(20))
    assert app.slack.ratelimited(inbox) == [] and app.slack.ratelimited() == []
    assert time.monotonic() - started < 30
    await app.bot.head_refresh.flush()
    edits = [c for c in app.slack.calls_to("chat.update") if c.args.get("channel") == inbox]
    assert 1 <= len(edits) <= 3  # the head shows the customer's latest time: redrawn at most every 10 s
    last = await conversation(app, number)
    assert last.last_customer_text == "message 19" and last.waiting_since == last.opened_at


async def test_a_later_message_notifies_the_channel_again_once(make_app):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    app.bot.conversations._renotify_after = timedelta(seconds=0.3)
    number = new_number()
    await customer_writes(app, number, "first")
    await customer_writes(app, number, "second")
    await asyncio.sleep(0.4)
    await customer_writes(app, number, "later")
    await customer_writes(app, number, "and again")
    broadcast = [c for c in app.posts(inbox) if c.args.get("reply_broadcast")]
    assert len(broadcast) == 1 and "later" in json.dumps(broadcast[0].args["blocks"])


# /sms inbox -------------------------------------------------------------------------------------------------


async def test_sms_inbox_lists_mine_then_unassigned_oldest_first_then_unreplied(make_app, sociocs: SociocsStandin):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    older, newer, mine, others = new_number(), new_number(), new_number(), new_number()
    for number in (older, mine, newer, others):
        await customer_writes(app, number, "hello")
        await asyncio.sleep(0.01)
    await pressed(app, "assign_conversation", await conversation(app, mine), "U0SENDER")
    await pressed(app, "assign_conversation", await conversation(app, others), "U0OTHER")
    stranger = new_number()
    sociocs.unreplied.extend(
        [
            {**incoming(stranger, "nobody answered", "UN1"), "timestamp": int(time.time() * 1000)},
            {**incoming(older, "already here", "UN2"), "timestamp": int(time.time() * 1000)},
        ]
    )
    sociocs.unreplied[0]["channel_key"] = sociocs.unreplied[1]["channel_key"] = CHANNEL_KEYS["twlo"][0]
    acked(await app.command("inbox", response_name="inbox-1", channel=new_channel()))
    await app.settled()
    (answer,) = app.private("inbox-1")
    assert answer.args["response_type"] == "ephemeral"
    shown = json.dumps(answer.args["blocks"])
    order = [shown.index(n) for n in (mine, older, newer, stranger)]
    assert order == sorted(order)
    assert others not in shown and "1 open conversation(s) are assigned to others" in shown
    assert shown.count(older) == 1  # Sociocs's unreplied message from a number with a thread is not repeated
    conv = await conversation(app, mine)
    assert f"https://standin.slack.com/archives/{inbox}/p{conv.head_ts.replace('.', '')}" in shown
    assert "Assigned to you" in shown and "Unassigned" in shown and "Unreplied in Sociocs" in shown


def line_of(blocks: list[dict[str, Any]], number: str) -> str:
    """The one inbox line that names `number`."""
    (line,) = [b["text"]["text"] for b in blocks if b["type"] == "section" and number in b["text"]["text"]]
    return line


async def inbox_blocks_of(app: AppUnderTest, name: str) -> list[dict[str, Any]]:
    acked(await app.command("inbox", response_name=name, channel=new_channel()))
    await app.settled()
    (answer,) = app.private(name)
    blocks = answer.args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


async def test_an_opt_out_waits_for_no_answer_until_the_customer_writes_again(
    make_app, sociocs: SociocsStandin, slack: SlackStandin
):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox)
    stopped, waiting, stop_first = new_number(), new_number(), new_number()
    await customer_writes(app, stopped, "hello")
    await asyncio.sleep(0.01)
    await customer_writes(app, waiting, "hello")
    await customer_writes(app, stop_first, "STOP")  # a conversation that starts with an opt-out
    await customer_writes(app, stopped, "Stop.")
    # Sociocs's unreplied messages with no thread here: an opt-out is not one to answer either.
    asked, quit_ = new_number(), new_number()
    now_ms = int(time.time() * 1000)
    sociocs.unreplied.extend(
        [
            {**incoming(asked, "a question", "UN1"), "timestamp": now_ms},
            {**incoming(quit_, "a question", "UN2"), "timestamp": now_ms},
            {**incoming(quit_, "QUIT", "UN3"), "timestamp": now_ms + 1},  # its latest word
        ]
    )

    blocks = await inbox_blocks_of(app, "inbox-stop")
    assert "waiting since" in line_of(blocks, waiting)
    for number in (stopped, stop_first):
        line = line_of(blocks, number)
        assert "waiting since" not in line and "answered" not in line and "opted out" in line
    shown = json.dumps(blocks)
    assert shown.index(waiting) < shown.index(stopped)  # those waiting first
    assert asked in shown and quit_ not in shown
    for number in (stopped, stop_first):
        assert (await conversation(app, number)).waiting is False

    # The Home tab shows the same inbox.
    acked(await app.event({"type": "app_home_opened", "user": "U0SENDER", "channel": "D0HOME", "tab": "home"}))
    await app.settled()
    home = slack.homes["U0SENDER"]["blocks"]
    assert "opted out" in line_of(home, stopped) and "waiting since" in line_of(home, waiting)

    # The opt-out itself is still shown in its thread, marked, with its Block button.
    conv = await conversation(app, stopped)
    replies = [c for c in app.posts(inbox) if c.args.get("thread_ts") == conv.thread_ts]
    (stop,) = [c for c in replies if "Stop." in str(c.args.get("text"))]
    assert "block_number" in json.dumps(stop.args["blocks"]) and "Opt-out" in json.dumps(stop.args["blocks"])
    assert conv.open and conv.last_customer_text == "Stop."

    # The customer writes again: the conversation waits again, since that message.
    await asyncio.sleep(0.01)
    await customer_writes(app, stopped, "Sorry, one more question")
    again = await conversation(app, stopped)
    assert again.waiting and again.waiting_since is not None and again.waiting_since > conv.last_customer_at
    assert "waiting since" in line_of(await inbox_blocks_of(app, "inbox-again"), stopped)


# App Home ---------------------------------------------------------------------------------------------------


async def test_the_home_tab_shows_the_inbox_and_your_sends_and_admins_see_health(make_app, slack: SlackStandin):
    inbox = new_channel()
    app = await make_app(INBOX_CHANNEL_ID=inbox, ADMIN_USER_IDS="U0ADMIN")
    # Long enough that the two changes below always share one refresh, even on a slow, busy machine.
    app.bot.home_refresh.delay = 0.5
    number, customer = new_number(), new_number()
    acked(await app.command(f"{number} your parcel is here", channel=new_channel()))
    await customer_writes(app, customer, "where is my parcel?")
    await app.settled()
    acked(await app.event({"type": "app_home_opened", "user": "U0SENDER", "channel": "D0HOME", "tab": "home"}))
    await app.settled()
    home = json.dumps(slack.homes["U0SENDER"])
    assert number in home and "Your recent messages" in home and customer in home
    assert "Configuration" not in home
    acked(await app.event({"type": "app_home_opened", "user": "U0ADMIN", "channel": "D0HOME2", "tab": "home"}))
    await app.settled()
    admin = json.dumps(slack.homes["U0ADMIN"])
    assert "Configuration" in admin and "Providers" in admin and number not in admin

    # Something of theirs changes: the Home tab is published again, once for the burst.
    await app.bot.home_refresh.flush()  # the refreshes the steps above asked for are out before counting
    before = len([c for c in slack.calls_to("views.publish") if c.args.get("user_id") == "U0SENDER"])
    await pressed(app, "assign_conversation", await conversation(app, customer), "U0SENDER")
    await customer_writes(app, customer, "still waiting")
    await app.bot.home_refresh.flush()
    after = [c for c in slack.calls_to("views.publish") if c.args.get("user_id") == "U0SENDER"]
    assert len(after) == before + 1
    assert "Assigned to you" in json.dumps(slack.homes["U0SENDER"])


async def test_the_slack_standin_refuses_a_home_view_slack_would_refuse(slack: SlackStandin):
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.conftest import BOT_TOKEN

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}  # 95 of them: over 250 kB
    assert (await client.views_publish(user_id="U0SENDER", view={"type": "home", "blocks": [block] * 100}))["ok"]
    for user, view, error in [
        ("U0SENDER", {"type": "home", "blocks": [block] * 101}, "invalid_arguments"),
        ("", {"type": "home", "blocks": [block]}, "invalid_arguments"),
        ("U0SENDER", {"type": "modal", "blocks": [block]}, "invalid_arguments"),
        ("U0SENDER", {"type": "home", "blocks": [long] * 95}, "view_too_large"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await client.views_publish(user_id=user, view=view)
        assert refused.value.response["error"] == error


async def test_the_slack_standin_answers_conversations_info_as_slack_does(slack: SlackStandin):
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.conftest import BOT_TOKEN

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    slack.workspace.archived_channels.add("C0ARCHIVED")
    info = (await client.conversations_info(channel="C0ARCHIVED"))["channel"]
    assert info["is_archived"] is True and info["is_private"] is False
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0ARCHIVED", text="hi")
    assert refused.value.response["error"] == "is_archived"
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_info(channel="G0PRIVATE")
    assert refused.value.response["error"] == "channel_not_found"
    assert (await client.conversations_info(channel="C0GENERAL"))["channel"]["is_member"] is True
