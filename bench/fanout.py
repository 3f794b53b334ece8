"""The 100-recipient scenario: one signed `/sms` to 100 numbers on an idle bot, and the bot's CPU for
all of it (command to the last outcome shown), measured after the main load of the bot's round.

Done when every recipient has had its Sociocs call answered and Slack has heard nothing new from the
bot for QUIET_S (the outcome reply is one message, edited as outcomes arrive, so the last edit is
the end). The CPU counted is the bot process's, user and system, from just before the command to then.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.load import CHANNEL_ID, build_commands, load
from bench.processes import StandinProcess, Target
from bench.system import proc_cpu_seconds

RECIPIENTS = 100
QUIET_S = 1.0  # no new Slack call for this long: the last outcome is shown
TIMEOUT_S = 60.0


def fanout_numbers(numbers: list[str]) -> list[str]:
    """The last RECIPIENTS of the run's numbers (the main load takes them from the start)."""
    return numbers[-RECIPIENTS:]


async def measure(target: Target, standins: StandinProcess, numbers: list[str]) -> dict[str, Any]:
    """CPU (ms) and wall time (s) of one command to `numbers`, and whether every one was answered."""
    text = ", ".join(numbers) + " bench fan-out"
    (command,) = build_commands(target.port, [numbers[0]], standins.slack_url, first=90_000, text=text)
    before = await standins.records()
    cpu0 = proc_cpu_seconds(target.proc.pid)
    t0 = time.monotonic()
    await load(target.port, [command], 1)
    wanted = set(numbers)
    calls_seen, last_change, answered = -1, time.monotonic(), False
    deadline = t0 + TIMEOUT_S
    while time.monotonic() < deadline:
        records = await standins.records()
        done = {s["to"] for s in records["sociocs_sends"] if s["to"] in wanted and s["t_done"] is not None}
        answered = done == wanted
        calls = sum(records["slack_methods"].values())
        if calls != calls_seen:
            calls_seen, last_change = calls, time.monotonic()
        elif answered and time.monotonic() - last_change >= QUIET_S:
            break
        await asyncio.sleep(0.05)
    cpu1 = proc_cpu_seconds(target.proc.pid)
    records = await standins.records()
    sends = [s for s in records["sociocs_sends"][len(before["sociocs_sends"]) :] if s["to"] in wanted]
    return {
        "recipients": len(numbers),
        "ack_status": command.status,
        "ack_ms": (command.t_ack - command.t_sent) * 1000,
        "cpu_ms": (cpu1 - cpu0) * 1000 if cpu0 is not None and cpu1 is not None else None,
        "wall_s": last_change - t0,
        "sociocs_calls": len(sends),
        "sociocs_ok": sum(1 for s in sends if s["status"] == 200),
        "all_answered": answered,
        "channel": f"{CHANNEL_ID}90000",
    }
