"""`sociocs-bot console`: type `/sms ...` lines and watch what the bot would post and send.

It runs the real app, listeners and send path in-process against a local Slack stand-in that prints
every Web API call, so nothing needs Slack credentials. Without SOCIOCS_API_KEY it is a dry run;
with one, messages really go out through Sociocs.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any, TextIO
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncBoltRequest

from bot.config import Settings
from bot.slack.app import build_bot
from bot.slack.text import decode, escape
from bot.standins.slack import SlackCall, SlackStandin, SlackWorkspace

CONSOLE_USER = "U0CONSOLE"
CONSOLE_CHANNEL = "C0CONSOLE"
_CONSOLE_TOKEN = "xoxb-console"


def _block_text(blocks: Any) -> list[str]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    lines: list[str] = []
    for block in blocks or []:
        if block.get("type") == "section" and block.get("text"):
            lines.append(block["text"]["text"])
        elif block.get("type") == "context":
            lines.extend(e.get("text", "") for e in block.get("elements", []))
    return lines


def readable(markup: str) -> str:
    """Slack markup as a person would read it in Slack: mentions, dates and entities resolved."""
    return decode(markup, {CONSOLE_USER: "you", CONSOLE_CHANNEL: "console"})


def _render(call: SlackCall) -> str | None:
    args = call.args
    if call.method == "chat.postMessage":
        where = f"thread {args['thread_ts']}" if args.get("thread_ts") else "new message"
        body = _block_text(args.get("blocks")) or [str(args.get("text", ""))]
        head = f"slack> chat.postMessage #{args.get('channel')} ({where}):"
    elif call.method == "response_url":
        body = [str(args.get("text", ""))]
        head = "slack> only you can see:"
    elif call.method in ("views.open", "views.update"):
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view or {}
        filled = []
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            value = element.get("initial_value") or (element.get("initial_option") or {}).get("value")
            if value:
                filled.append(f"{block.get('block_id')}: {value}")
        body = ["(in Slack the compose form opens here; the console cannot show forms)", *filled]
        head = f"slack> {call.method} {view.get('callback_id', '')}:"
    elif call.method in ("auth.test", "users.info", "conversations.info"):
        return None
    else:
        return f"slack> {call.method} {json.dumps(args, ensure_ascii=False)[:500]}"
    text = readable("\n".join(body))
    return head + "\n" + "\n".join("    " + line for line in text.split("\n"))


async def run_console(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    def show(line: str) -> None:
        stdout.write(line + "\n")
        stdout.flush()

    def on_call(call: SlackCall) -> None:
        rendered = _render(call)
        if rendered:
            show(rendered)

    workspace = SlackWorkspace(users={CONSOLE_USER: "you"}, channels={CONSOLE_CHANNEL: "console"})
    slack = SlackStandin(bot_token=_CONSOLE_TOKEN, workspace=workspace, on_call=on_call)
    await slack.start()
    update: dict[str, object] = {"slack_bot_token": None, "slack_api_url": slack.api_url}
    scratch = tempfile.TemporaryDirectory(prefix="sociocs-console-")
    if settings.dry_run:  # a dry run records nothing that matters: keep its ledger out of the way
        update["database_url"] = f"sqlite:///{scratch.name}/ledger.db"
    local = settings.model_copy(update=update)
    bot = await build_bot(
        local,
        console=True,
        on_sociocs_request=lambda body: show("sociocs> POST /message " + json.dumps(body, ensure_ascii=False)),
    )
    mode = "dry run: nothing is sent" if local.dry_run else "LIVE: messages are sent through Sociocs"
    show(f"sociocs-bot console ({mode}). Type /sms commands as in Slack; /sms help for the grammar; end with Ctrl-D.")
    try:
        for number, line in enumerate(stdin, start=1):
            text = line.rstrip("\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            command, _, rest = text.strip().partition(" ")
            if command != "/sms":
                show("console> only /sms commands are understood here, e.g. /sms +16175551212 hello")
                continue
            await _dispatch(bot, slack, rest.replace("\\n", "\n"), number, show)
            await bot.background.wait_idle()
    finally:
        await bot.aclose()
        await slack.stop()
        scratch.cleanup()
    return 0


async def _dispatch(bot: Any, slack: SlackStandin, text: str, number: int, show: Any) -> None:
    form = {
        "token": "console",
        "team_id": slack.workspace.team_id,
        "channel_id": CONSOLE_CHANNEL,
        "channel_name": "console",
        "user_id": CONSOLE_USER,
        "user_name": "you",
        "command": "/sms",
        "text": escape(text),  # Slack escapes &, < and > in what people type
        "response_url": slack.response_url(f"console-{number}"),
        "trigger_id": f"console.{number}",
    }
    request = AsyncBoltRequest(body=urlencode(form), headers={"content-type": ["application/x-www-form-urlencoded"]})
    response = await bot.app.async_dispatch(request)
    if response.status != 200:
        show(f"slack> the command failed with HTTP {response.status}: {response.body}")
    elif response.body:
        try:
            reply = json.loads(response.body)
        except json.JSONDecodeError:
            reply = {"text": response.body}
        show(
            "slack> only you can see:\n" + "\n".join("    " + ln for ln in readable(reply.get("text", "")).split("\n"))
        )
