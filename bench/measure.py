"""One target for one round: start it, load it, wait for the bot's outcomes, check exactly-once, stop it."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from bench import fanout
from bench.fanout import fanout_numbers
from bench.load import NUMBER_RE, Command, build_commands, load
from bench.processes import StandinProcess, start_py_spy, start_target, stop_py_spy, stop_target, wait_ready
from bench.stats import percentile, summary
from bench.system import CpuWindow, mb, proc_cpu_seconds, proc_status, sample_rss


async def wait_outcomes(standins: StandinProcess, numbers: set[str], deadline: float) -> dict[str, Any]:
    """Poll the stand-ins until every number has an outcome reply and no Sociocs call is in flight."""
    records: dict[str, Any] = {}
    while time.monotonic() < deadline:
        records = await standins.records()
        replied = {m for p in records["slack_posts"] if p["thread_ts"] for m in NUMBER_RE.findall(p["text"])}
        if numbers <= replied and records["sociocs_in_flight"] == 0:
            break
        await asyncio.sleep(0.1)
    return records


def analyse_bot(commands: list[Command], records: dict[str, Any]) -> dict[str, Any]:
    """End-to-end times and the exactly-once checks, from the stand-ins' records."""
    by_number = {c.number: c for c in commands}
    sociocs: dict[str, list[dict[str, Any]]] = {}
    for s in records["sociocs_sends"]:
        sociocs.setdefault(str(s["to"]), []).append(s)
    parents: dict[str, list[float]] = {}
    replies: dict[str, list[dict[str, Any]]] = {}
    for p in records["slack_posts"]:
        for number in set(NUMBER_RE.findall(p["text"])):
            if p["thread_ts"]:
                replies.setdefault(number, []).append(p)
            else:
                parents.setdefault(number, []).append(p["t"])

    missing_sociocs = [n for n in by_number if n not in sociocs]
    dup_sociocs = [n for n in by_number if len(sociocs.get(n, [])) > 1]
    missing_reply = [n for n in by_number if n not in replies]
    dup_reply = [n for n in by_number if len(replies.get(n, [])) > 1]
    strangers = sorted((set(sociocs) | set(replies)) - set(by_number))
    not_sent = [n for n, rs in replies.items() if n in by_number and not any("Sent to" in r["text"] for r in rs)]
    not_ok = [s for ss in sociocs.values() for s in ss if s["status"] != 200]

    e2e, to_parent, to_sociocs, sociocs_time, to_reply_after_sociocs = [], [], [], [], []
    for number, cmd in by_number.items():
        if number in replies:
            e2e.append((min(r["t"] for r in replies[number]) - cmd.t_sent) * 1000)
        if number in parents:
            to_parent.append((min(parents[number]) - cmd.t_sent) * 1000)
        if number in sociocs:
            first = min(sociocs[number], key=lambda s: s["t"])
            to_sociocs.append((first["t"] - cmd.t_sent) * 1000)
            if first["t_done"] is not None:
                sociocs_time.append((first["t_done"] - first["t"]) * 1000)
                if number in replies:
                    to_reply_after_sociocs.append((min(r["t"] for r in replies[number]) - first["t_done"]) * 1000)

    # Sends per second count the commands whose outcome reply says the message was sent.
    unsent = set(not_sent)
    reply_times = [min(r["t"] for r in replies[n]) for n in by_number if n in replies and n not in unsent]
    first_sent = min(c.t_sent for c in commands)
    span = (max(reply_times) - first_sent) if reply_times else None
    sociocs_starts = sorted(s["t"] for n in by_number for s in sociocs.get(n, []))
    return {
        "e2e_ms": summary(e2e),
        "breakdown_p50_ms": {
            "command_to_parent_post": percentile(to_parent, 50),
            "command_to_sociocs_request": percentile(to_sociocs, 50),
            "sociocs_request_to_answer": percentile(sociocs_time, 50),
            "sociocs_answer_to_outcome_reply": percentile(to_reply_after_sociocs, 50),
        },
        "breakdown_p99_ms": {
            "command_to_parent_post": percentile(to_parent, 99),
            "command_to_sociocs_request": percentile(to_sociocs, 99),
            "sociocs_request_to_answer": percentile(sociocs_time, 99),
            "sociocs_answer_to_outcome_reply": percentile(to_reply_after_sociocs, 99),
        },
        "sends_per_s": (len(reply_times) / span) if span else None,
        "sociocs_requests_per_s": (
            (len(sociocs_starts) - 1) / (sociocs_starts[-1] - sociocs_starts[0]) if len(sociocs_starts) > 1 else None
        ),
        "sociocs_peak_in_flight": records["sociocs_peak_in_flight"],
        "slack_methods": records["slack_methods"],
        "integrity": {
            "commands": len(by_number),
            "sociocs_calls": sum(len(v) for n, v in sociocs.items() if n in by_number),
            "outcome_replies": sum(len(v) for n, v in replies.items() if n in by_number),
            "missing_sociocs": len(missing_sociocs),
            "duplicate_sociocs": len(dup_sociocs),
            "missing_reply": len(missing_reply),
            "duplicate_reply": len(dup_reply),
            "reply_not_sent": len(not_sent),
            "sociocs_not_200": len(not_ok),
            "unknown_numbers": len(strangers),
            "examples": {
                "missing_sociocs": missing_sociocs[:5],
                "duplicate_sociocs": dup_sociocs[:5],
                "missing_reply": missing_reply[:5],
                "duplicate_reply": dup_reply[:5],
                "reply_not_sent": [r["text"][:200] for n in not_sent[:3] for r in replies[n]],
            },
        },
    }


async def run_target(
    name: str, standins: StandinProcess, args: argparse.Namespace, numbers: list[str], workdir: Path, round_no: int
) -> dict[str, Any]:
    await standins.reset()
    target = start_target(name, standins, workdir, round_no, args)
    result: dict[str, Any] = {"target": name, "round": round_no}
    stop_sampling = asyncio.Event()
    peak = [0]
    sampler = None
    try:
        await wait_ready(target)
        result["startup_s"] = target.startup_s
        result["rss_ready_mb"] = mb(proc_status(target.proc.pid).get("VmRSS"))
        sampler = asyncio.create_task(sample_rss(target.proc.pid, peak, stop_sampling))
        window = CpuWindow([target.proc.pid, standins.proc.pid])

        warm = build_commands(target.port, numbers[: args.warmup], standins.slack_url)
        measured = build_commands(
            target.port, numbers[args.warmup : args.warmup + args.n], standins.slack_url, first=args.warmup
        )
        if warm:
            await load(target.port, warm, args.c)
            if name == "bot":  # let the warm-up sends finish before the clock starts
                await wait_outcomes(
                    standins, {c.number for c in warm}, time.monotonic() + 30 + 2 * args.sociocs_latency
                )

        spy = start_py_spy(args.py_spy, target, round_no) if name == "bot" and args.py_spy else None
        cpu0 = proc_cpu_seconds(target.proc.pid)
        stand_cpu0 = standins.cpu_seconds()
        own_cpu0 = time.process_time()
        wall = await load(target.port, measured, args.c)
        own_cpu = time.process_time() - own_cpu0
        ok = [c for c in measured if c.error is None and c.status == 200]
        acks = [(c.t_ack - c.t_sent) * 1000 for c in ok]
        result["ack_ms"] = summary(acks)
        result["ack_samples_ms"] = [round(a, 3) for a in acks]
        result["acks_per_s"] = len(measured) / wall if wall else None
        result["ack_errors"] = len(measured) - len(ok)
        result["ack_error_examples"] = [
            c.error or f"HTTP {c.status}: {c.ack_body[:120]!r}" for c in measured if c.error or c.status != 200
        ][:5]
        result["ack_with_body"] = sum(1 for c in ok if c.ack_body.strip())
        result["ack_body_examples"] = [c.ack_body[:200].decode(errors="replace") for c in ok if c.ack_body.strip()][:3]
        result["loadgen_cpu_s"] = own_cpu

        if name == "bot":
            everyone = warm + measured
            budget = 60 + len(everyone) * args.sociocs_latency / 4
            records = await wait_outcomes(standins, {c.number for c in everyone}, time.monotonic() + budget)
            await asyncio.sleep(args.settle)  # late duplicates would show up here
            records = await standins.records()
            result.update(analyse_bot(measured, records))
            result["integrity_with_warmup"] = analyse_bot(everyone, records)["integrity"]
        else:
            await asyncio.sleep(min(args.settle, 0.5))
        cpu1 = proc_cpu_seconds(target.proc.pid)
        if spy is not None:
            result["py_spy_profile"] = stop_py_spy(spy)
        if name == "bot" and args.fanout:  # on the now idle bot: one command to 100 numbers
            result["fanout"] = await fanout.measure(target, standins, fanout_numbers(numbers))
        stand_cpu1 = standins.cpu_seconds()
        if cpu0 is not None and cpu1 is not None:
            result["cpu_s"] = cpu1 - cpu0
            result["cpu_ms_per_command"] = (cpu1 - cpu0) * 1000 / len(measured)
        if stand_cpu0 is not None and stand_cpu1 is not None:
            result["standins_cpu_s"] = stand_cpu1 - stand_cpu0
        await asyncio.sleep(args.settle)
        status = proc_status(target.proc.pid)
        result["rss_settled_mb"] = mb(status.get("VmRSS"))
        result["rss_peak_mb"] = mb(max(status.get("VmHWM", 0), peak[0]) or None)
        result["other_cpu_percent"] = window.other_percent()
    finally:
        stop_sampling.set()
        if sampler is not None:
            await sampler
        result["stop"] = stop_target(target)
        log = target.log_path.read_text(errors="replace").splitlines() if target.log_path.exists() else []
        result["log_errors"] = sum(1 for line in log if " ERROR " in line or "Traceback" in line)
        result["log_warnings"] = sum(1 for line in log if " WARNING " in line)
        result["log_lines"] = [line for line in log if " WARNING " in line or " ERROR " in line][:20]
        result["log_tail"] = log[-10:] if result["log_errors"] else []
    return result
