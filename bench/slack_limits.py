"""Reporting under Slack's real limits: the four scenarios of issue 11, against their targets.

The bot runs as deployed (`python -m bot`, HTTP mode) against the Slack stand-in with Slack's
documented limits on (burst 3 then one post a second per channel, tiers per method, 429 with
Retry-After; see bot/standins/slack.py) and a Sociocs stand-in answering after 500 ms. Each scenario
gets fresh stand-ins and a fresh bot, so 429 counts and rate budgets are its own.

    .venv/bin/python bench/slack_limits.py            # all four (about 3 minutes)
    .venv/bin/python bench/slack_limits.py --only 1,4

Its helpers for starting the bot and signing requests are its own (bench/slack_bot.py).
Each scenario measures; bench/targets.py (SLACK_LIMITS, scenario_passed) decides PASS or MISS and
bench/report.py prints the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import slack_limits_table
from bench.slack_bot import API_KEY, BOT_TOKEN, CHANNEL_KEYS, BenchBot, posts, status
from bench.targets import SLACK_LIMITS, scenario_passed
from standins import SlackCall, SlackStandin, SociocsStandin

ORDER = [":outbox_tray:", ":white_check_mark:", ":eyes:"]  # sent, delivered, read
_numbers = iter(range(1000, 9999))


def number() -> str:
    return f"+1617555{next(_numbers):04d}"


class Run:
    """Fresh stand-ins (limits on, Sociocs `latency` s) and a fresh bot."""

    def __init__(self, latency: float) -> None:
        self.slack = SlackStandin(bot_token=BOT_TOKEN)
        self.slack.start_in_thread()
        self.sociocs = SociocsStandin(
            api_key=API_KEY, channel_keys={k: list(v) for k, v in CHANNEL_KEYS.items()}, latency=latency
        )
        self.sociocs.start_in_thread()
        self.dir = tempfile.TemporaryDirectory(prefix="slack-limits-")
        self.bot = BenchBot(self.slack, self.sociocs, Path(self.dir.name), MAX_RECIPIENTS="60", LOG_LEVEL="WARNING")

    def close(self) -> None:
        self.bot.stop()
        self.slack.stop_thread()
        self.sociocs.stop_thread()
        self.dir.cleanup()

    def in_channel(self, channel: str) -> tuple[list[SlackCall], list[SlackCall]]:
        mine = [c for c in posts(self.slack.calls) if c.args.get("channel") == channel]
        return [c for c in mine if not c.args.get("thread_ts")], [c for c in mine if c.args.get("thread_ts")]

    def shown(self, channel: str, numbers: list[str]) -> int:
        """How many of the numbers have their outcome in a thread reply in the channel."""
        text = "\n".join(str(r.args.get("text")) for r in self.in_channel(channel)[1])
        return sum(1 for n in numbers if f"to {n}" in text)

    def private(self) -> int:
        return sum(
            1
            for c in self.slack.calls
            if c.method == "response_url"
            or (c.method == "chat.postMessage" and str(c.args.get("channel")).startswith("U"))
        )

    def channel_calls(self, channel: str) -> int:
        return sum(
            1
            for c in self.slack.calls
            if c.method in ("chat.postMessage", "chat.update") and c.args.get("channel") == channel
        )


def wait(predicate: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until predicate() holds (polled every 20 ms), None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def fanout(latency: float) -> dict[str, Any]:
    run = Run(latency)
    try:
        numbers = [number() for _ in range(50)]
        started = time.monotonic()
        run.bot.command(f"{', '.join(numbers)} Closed today", channel="C0FANOUT")
        took = wait(lambda: run.shown("C0FANOUT", numbers) == 50, 60)
        visible = (time.monotonic() - started) if took is not None else None
        time.sleep(1.5)  # let any last edit land before counting calls
        parents, _ = run.in_channel("C0FANOUT")
        return {
            "scenario": "one /sms to 50 recipients",
            "visible_s": visible,
            "slack_calls": run.channel_calls("C0FANOUT"),
            "429s": len(run.slack.ratelimited()),
            "shown": f"{run.shown('C0FANOUT', numbers)} of 50",
            "summaries": f"{len(parents)} of 1",
            "private": run.private(),
        }
    finally:
        run.close()


def senders(latency: float, count: int, spread: float) -> dict[str, Any]:
    run = Run(latency)
    try:
        channel = "C0BUSY"
        numbers = [number() for _ in range(count)]
        started = time.monotonic()
        for i, n in enumerate(numbers):
            delay = started + i * spread / count - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            run.bot.command(f"{n} hello {i}", channel=channel)
        took = wait(lambda: run.shown(channel, numbers) == count and len(run.in_channel(channel)[0]) == count, 200)
        visible = (time.monotonic() - started) if took is not None else None
        parents, _ = run.in_channel(channel)
        return {
            "scenario": f"{count} sends in one channel over {spread:g} s",
            "visible_s": visible,
            "slack_calls": run.channel_calls(channel),
            "429s": len(run.slack.ratelimited()),
            "shown": f"{run.shown(channel, numbers)} of {count}",
            "summaries": f"{len(parents)} of {count}",
            "private": run.private(),
        }
    finally:
        run.close()


def deliveries(latency: float) -> dict[str, Any]:
    run = Run(latency)
    try:
        channel = "C0DELIVER"
        numbers = [number() for _ in range(50)]
        run.bot.command(f"{', '.join(numbers)} On its way", channel=channel)
        wait(lambda: run.shown(channel, numbers) == 50, 60)
        text = "\n".join(str(r.args.get("text")) for r in run.in_channel(channel)[1])
        ids = re.findall(r"Sociocs message id `(\w+)`", text)
        (parent,), _ = run.in_channel(channel)
        ts = parent.response["ts"]
        for value in ("sent", "delivered"):
            for message_id in ids:
                run.bot.webhook(status(message_id, value))

        def delivered() -> bool:
            current = run.slack.current(channel, ts) or {}
            return json.dumps(current).count(" delivered") == 50

        took = wait(delivered, 120)
        backwards = 0
        seen: dict[str, int] = {}
        edits = [c for c in run.slack.calls_to("chat.update") if c.args.get("ts") == ts]
        for edit in edits:
            blob = json.dumps(edit.args.get("blocks"))
            for n in numbers:
                found = re.search(r"(:\w+:) " + re.escape(n), blob)
                if found and found.group(1) in ORDER:
                    rank = ORDER.index(found.group(1))
                    backwards += rank < seen.get(n, 0)
                    seen[n] = max(rank, seen.get(n, 0))
        return {
            "scenario": "50 recipients, sent then delivered webhooks",
            "visible_s": took,
            "slack_calls": len(edits),
            "429s": len(run.slack.ratelimited()),
            "shown": f"{json.dumps(run.slack.current(channel, ts) or {}).count(' delivered')} of 50 delivered",
            "backwards": backwards,
            "private": run.private(),
        }
    finally:
        run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sociocs-latency", type=float, default=0.5)
    parser.add_argument("--only", default="1,2,3,4", help="which scenarios, e.g. 1,4")
    args = parser.parse_args()
    wanted = {int(x) for x in args.only.split(",") if x}
    latency = args.sociocs_latency
    scenarios: dict[int, Callable[[], dict[str, Any]]] = {
        1: lambda: fanout(latency),
        2: lambda: senders(latency, 20, 2.0),
        3: lambda: senders(latency, 60, 10.0),
        4: lambda: deliveries(latency),
    }
    rows = []
    for key, scenario in scenarios.items():
        if key not in wanted:
            continue
        row = scenario()
        target = SLACK_LIMITS[key]
        row["target"], row["pass"] = target.text, scenario_passed(target, row)
        rows.append(row)
        print(f"done: {row['scenario']}", file=sys.stderr, flush=True)
    print(slack_limits_table(rows, latency))


if __name__ == "__main__":
    main()
