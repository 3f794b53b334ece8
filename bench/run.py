"""Benchmark: acknowledgement latency, send throughput, memory and start-up, against a bare Bolt app.

    .venv/bin/python bench/run.py [--quick] [-n 400] [-c 50] [--sociocs-latency 0.5] [--rounds 5] [--bot-rev REV]

Three targets, each started fresh in every round and alternated so machine noise hits all of them:
- floor: a raw ASGI app under uvicorn that verifies the Slack signature and answers 200;
- peer: a bare Bolt `App` (sync) that only acknowledges `/sms`, via slack_bolt.adapter.asgi under uvicorn;
- bot: `python -m bot` in HTTP mode, with local stand-ins for Slack and Sociocs (in their own process).

Each target gets N signed `/sms` commands from C concurrent keep-alive clients (a closed loop: each
client sends its next command when the last was answered). For the bot, every command also goes out
to Sociocs and its outcome is posted in a thread; the harness waits for all of that, checks that each
command got exactly one Sociocs call and one outcome reply, and times it.

Prints a table and writes bench/results/<timestamp>.json. See bench/README.md.

The work is split into small modules (see bench/__init__.py): load.py generates the load, processes.py
starts the servers, measure.py runs one target for a round, stats.py pools the numbers, targets.py
computes the verdicts and report.py formats them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import bench.* (and the stand-ins) from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import report, stats, targets
from bench.fanout import RECIPIENTS
from bench.load import MAX_COMMANDS, bench_numbers
from bench.measure import run_target
from bench.processes import ROOT, TARGETS, StandinProcess, byte_compile, export_revision, pin
from bench.system import machine

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one round with shorter settling (under a minute)")
    p.add_argument("-n", "--n", type=int, default=400, help="commands per target per round (default 400)")
    p.add_argument("-c", "--c", "--concurrency", dest="c", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--sociocs-latency", type=float, default=0.5, help="seconds the Sociocs stand-in takes (0.5)")
    p.add_argument(
        "--lookup-latency",
        type=float,
        default=None,
        help="seconds its contact lookups take (default: --sociocs-latency); a what-if, the targets assume the same",
    )
    p.add_argument("--slack-latency", type=float, default=0.0, help="seconds the Slack stand-in takes (0)")
    p.add_argument("--rounds", type=int, default=None, help="rounds of floor/peer/bot, alternated (5; quick 1)")
    p.add_argument("--warmup", type=int, default=None, help="commands sent before measuring (20; quick 10)")
    p.add_argument("--targets", default="floor,peer,bot", help="comma-separated subset of floor,peer,bot")
    p.add_argument("--settle", type=float, default=None, help="seconds idle before settled RSS (2; quick 1)")
    p.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the bot only, for what-if runs (e.g. SOCIOCS_MAX_CONCURRENCY=64)",
    )
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the bot with py-spy (if installed in the venv) during the load; collapsed stacks to DIR",
    )
    p.add_argument(
        "--bot-rev",
        default=None,
        metavar="REV",
        help="run the bot from this git revision (exported to a temporary directory), not the work tree",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="do not give the server under test a CPU of its own (it does by default)"
    )
    p.add_argument(
        "--no-fanout", dest="fanout", action="store_false", help="skip the 100-recipient command after each bot round"
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON results")
    args = p.parse_args(argv)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (10 if args.quick else 20)
    args.settle = args.settle if args.settle is not None else (1.0 if args.quick else 2.0)
    try:
        args.bot_env = dict(item.split("=", 1) for item in args.bot_env)
    except ValueError:
        p.error("--bot-env takes NAME=VALUE")
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in args.targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
    if args.n < 1 or args.c < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("N, C and rounds must be at least 1, warm-up at least 0")
    if args.n + args.warmup + RECIPIENTS > MAX_COMMANDS:
        p.error(f"N + warm-up must be at most {MAX_COMMANDS - RECIPIENTS} (one distinct recipient per command)")
    if args.sociocs_latency < 0 or args.slack_latency < 0 or (args.lookup_latency or 0) < 0:
        p.error("latencies must not be negative")
    return args


async def main_async(args: argparse.Namespace) -> int:
    numbers = bench_numbers(args.warmup + args.n + RECIPIENTS)  # the last 100: the fan-out command
    pin(args)
    config = {
        "n": args.n,
        "c": args.c,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "sociocs_latency": args.sociocs_latency,
        "lookup_latency": args.lookup_latency,
        "slack_latency": args.slack_latency,
        "targets": args.targets,
        "bot_env": args.bot_env,
        "server_cpus": sorted(args.server_cpus),
        "quick": args.quick,
        "fanout": args.fanout,
        "machine": machine(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    results: list[dict[str, Any]] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sociocs-bench-") as tmp:
        workdir = Path(tmp)
        args.bot_source = None
        if args.bot_rev:
            args.bot_source, config["bot_rev"] = export_revision(args.bot_rev, workdir)
        if "bot" in args.targets:
            byte_compile(args.bot_source or ROOT)
            config["byte_compiled"] = True
        standins = StandinProcess(args.slack_latency, args.sociocs_latency, workdir, args.lookup_latency)
        try:
            for round_no in range(args.rounds):
                order = args.targets[round_no % len(args.targets) :] + args.targets[: round_no % len(args.targets)]
                for name in order:
                    print(f"round {round_no + 1}/{args.rounds}: {name} ...", file=sys.stderr, flush=True)
                    try:
                        results.append(await run_target(name, standins, args, numbers, workdir, round_no))
                    except RuntimeError as exc:
                        print(f"bench: {name} failed: {exc}", file=sys.stderr)
                        return 1
        finally:
            standins.stop()
    config["wall_s"] = time.monotonic() - t0
    agg = stats.aggregate(results, args.targets)
    ratios = stats.pooled_ratios(agg)
    per_round = stats.rounds(results, args.rounds)
    judged = targets.judge(config, results, agg, stats.round_ratios(per_round))
    table = report.render(config, results, agg, ratios, per_round, judged)
    verdict = {"ratios": ratios, "verdicts": judged.as_json() if judged else {}}
    print(table)
    print(f"\n(wall time {config['wall_s']:.0f} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(
        json.dumps({"config": config, "aggregate": agg, **verdict, "runs": results, "table": table}, indent=1) + "\n"
    )
    print(f"results: {path}")
    return 0


def main() -> int:
    return asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
