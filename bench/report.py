"""Formatting only: the printed table of bench/run.py and the Markdown table of bench/slack_limits.py.

Every verdict arrives computed (bench/targets.py), and so do the ratios and per-round numbers
(bench/stats.py); nothing here decides PASS or MISS. The only arithmetic left is descriptive: the
medians and worst rounds a row of the table shows.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from bench.processes import DESIGN_BOT_ENV, TARGETS
from bench.stats import BASELINES, Round
from bench.targets import NOISY_PERCENT, Judgement


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def render(
    config: dict[str, Any],
    results: list[dict[str, Any]],
    agg: dict[str, Any],
    ratios: dict[str, dict[str, float | None]],
    per_round: list[Round],
    judged: Judgement | None,
) -> str:
    """The table bench/run.py prints: `agg`, `ratios` and `per_round` from bench/stats.py, `judged` from
    bench/targets.py (None when the bot did not run)."""
    targets = [t for t in TARGETS if t in agg]
    out: list[str] = []
    w = out.append
    w(
        f"sociocs-slack-bot benchmark  N={config['n']} C={config['c']} rounds={config['rounds']} "
        f"warm-up={config['warmup']}  sociocs latency {config['sociocs_latency']:g} s, "
        f"slack latency {config['slack_latency']:g} s"
    )
    if config.get("lookup_latency") is not None:
        w(f"contact lookups answered after {config['lookup_latency']:g} s (what-if: the targets assume the same)")
    if config.get("bot_env"):
        w("bot environment added (what-if): " + " ".join(f"{k}={v}" for k, v in config["bot_env"].items()))
    m = config["machine"]
    pinned = f"; server under test pinned to CPU {config['server_cpus']}" if config.get("server_cpus") else ""
    git = m.get("git", {})
    if config.get("bot_rev"):
        w(f"bot: commit {config['bot_rev']} (exported with git archive; the work tree is not used)")
    elif git.get("commit"):
        dirty = git.get("bot_files_changed")
        w(f"bot: commit {git['commit']}" + (f" + {dirty} uncommitted change(s) under bot/" if dirty else ""))
    if config.get("byte_compiled"):
        w("bot: byte-compiled before it starts, as pip does when it installs it")
    w(f"machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}{pinned}")
    w("")
    w(f"{'acknowledgement latency (ms)':<42}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'acks/s':>8}{'errors':>7}")
    for name in targets:
        a = agg[name]["ack_ms"]
        label = f"{name:<6}{TARGETS[name]}"
        w(
            f"  {label:<40}{fmt(a['p50']):>8}{fmt(a['p95']):>8}{fmt(a['p99']):>8}{fmt(a['max']):>8}"
            f"{fmt(agg[name]['acks_per_s_median'], '.0f'):>8}{agg[name]['ack_errors']:>7}"
        )
    if "bot" in agg:
        for base in BASELINES:
            if f"bot/{base}" in ratios:
                r = ratios[f"bot/{base}"]
                w(
                    f"  {'bot / ' + base:<40}{fmt(r['p50'], '.2f', 'x'):>8}{fmt(r['p95'], '.2f', 'x'):>8}"
                    f"{fmt(r['p99'], '.2f', 'x'):>8}{fmt(r['max'], '.2f', 'x'):>8}"
                )
        if config["rounds"] > 1:
            for rnd in per_round:
                bits = [f"round {rnd.index + 1}: bot p99 {fmt(rnd.p99['bot'])}"]
                bits += [f"{b} p99 {fmt(rnd.p99[b])} ({fmt(rr, '.2f', 'x')})" for b, rr in rnd.ratios.items()]
                w("  " + ", ".join(bits) + f"; others' CPU up to {rnd.others_cpu_max:.0f}%")
            assert judged is not None  # the bot ran
            for base, (median, above, known) in judged.ratio_rounds.items():
                w(
                    f"  bot p99 / {base} p99, median of rounds {median:.2f}x "
                    f"(rounds above the target: {above} of {known})"
                )
    others = [float(r["other_cpu_percent"]) for r in results if r.get("other_cpu_percent") is not None]
    if others:
        w(
            f"  noise: other processes on the machine used up to {max(others):.0f}% of a core during a target's run "
            f"(median {statistics.median(others):.0f}%)"
        )
    w("")
    if "bot" in agg:
        bot_runs = [r for r in results if r["target"] == "bot"]
        w(f"{'bot end-to-end (command -> outcome reply)':<42}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'sends/s':>9}")
        for r in bot_runs:
            e = r.get("e2e_ms", {})
            label = f"round {r['round'] + 1} (ms)"
            cells = "".join(f"{fmt(e.get(k), '.0f'):>8}" for k in ("p50", "p95", "p99", "max"))
            w(f"  {label:<40}{cells}{fmt(r.get('sends_per_s')):>9}")
        last = bot_runs[-1] if bot_runs else {}
        b50, b99 = last.get("breakdown_p50_ms", {}), last.get("breakdown_p99_ms", {})
        w("  where the time goes (last round, p50 / p99 ms):")
        for key, label in (
            ("command_to_parent_post", "command -> parent message posted"),
            ("command_to_sociocs_request", "command -> Sociocs request arrives"),
            ("sociocs_request_to_answer", "Sociocs request -> answer (stand-in latency)"),
            ("sociocs_answer_to_outcome_reply", "Sociocs answer -> outcome reply arrives"),
        ):
            w(f"    {label:<46}{fmt(b50.get(key), '.0f'):>7} / {fmt(b99.get(key), '.0f')}")
        w(
            f"  Sociocs: peak in flight {last.get('sociocs_peak_in_flight', '-')}, "
            f"request rate {fmt(last.get('sociocs_requests_per_s'))}/s; Slack calls: "
            + ", ".join(f"{k} {v}" for k, v in sorted(last.get("slack_methods", {}).items()))
        )
        for r in bot_runs:
            fan = r.get("fanout")
            if fan:
                w(
                    f"  round {r['round'] + 1}, one command to {fan['recipients']} recipients on the idle bot: "
                    f"CPU {fmt(fan.get('cpu_ms'), '.0f')} ms, last outcome shown after {fmt(fan.get('wall_s'))} s, "
                    f"{fan.get('sociocs_ok')} of {fan['recipients']} sent, ack {fmt(fan.get('ack_ms'), '.0f')} ms"
                )
        w("")
        w("integrity (every command: exactly one Sociocs call, exactly one outcome reply)")
        for r in bot_runs:
            i = r.get("integrity_with_warmup", r.get("integrity", {}))
            w(
                f"  round {r['round'] + 1}: commands {i.get('commands')}, Sociocs calls {i.get('sociocs_calls')}, "
                f"outcome replies {i.get('outcome_replies')}; missing call {i.get('missing_sociocs')}, "
                f"duplicate call {i.get('duplicate_sociocs')}, missing reply {i.get('missing_reply')}, "
                f"duplicate reply {i.get('duplicate_reply')}, not sent {i.get('reply_not_sent')}, "
                f"refused acks {r.get('ack_with_body')}, ack errors {r.get('ack_errors')}"
            )
            examples = {k: v for k, v in i.get("examples", {}).items() if v}
            examples.update({k: r[k] for k in ("ack_error_examples", "ack_body_examples") if r.get(k)})
            if examples:
                w(f"    examples: {json.dumps(examples)[:600]}")
        w("")
    w(f"{'process':<42}" + "".join(f"{t:>10}" for t in targets))
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("start-up to ready, median (ms)", lambda a: statistics.median(s * 1000 for s in a["startup_s"] if s)),
        ("start-up to ready, worst (ms)", lambda a: max(s * 1000 for s in a["startup_s"] if s)),
        ("peak RSS, worst round (MB)", lambda a: a["rss_peak_mb_max"]),
        ("settled RSS, worst round (MB)", lambda a: a["rss_settled_mb_max"]),
        ("CPU per command, median (ms)", lambda a: a["cpu_ms_per_command_median"]),
    ]
    for label, get in rows:
        shown: list[str] = []
        for t in targets:
            try:
                shown.append(fmt(get(agg[t]), ".1f" if "MB" in label or "CPU" in label else ".0f"))
            except (ValueError, TypeError, statistics.StatisticsError):
                shown.append("-")
        w(f"  {label:<40}" + "".join(f"{c:>10}" for c in shown))
    exits = []
    for t in targets:
        stops = [r.get("stop", {}) for r in results if r["target"] == t]
        codes = sorted({str(s.get("exit_code")) for s in stops})
        slowest = max((s.get("stop_s") or 0.0 for s in stops), default=0.0)
        exits.append(f"{t} {'/'.join(codes)} (slowest {slowest:.1f} s)")
    w("  exit status on SIGTERM: " + ", ".join(exits) + "  (-15: uvicorn.run re-raises SIGTERM)")
    for t in targets:
        runs = [r for r in results if r["target"] == t]
        errors = sum(r.get("log_errors", 0) for r in runs)
        warnings = sum(r.get("log_warnings", 0) for r in runs)
        if errors or warnings:
            lines = sorted({line.split(" ", 3)[-1][:110] for r in runs for line in r.get("log_lines", [])})
            w(f"  {t} log, {len(runs)} start(s): {errors} errors, {warnings} warnings: " + " | ".join(lines[:3]))
    w("")

    if judged is not None:
        w(
            f"targets (C={config['c']}, Sociocs latency {config['sociocs_latency']:g} s, bot with "
            + " ".join(f"{k}={v}" for k, v in DESIGN_BOT_ENV.items())
            + "; Slack's rate limits off in the stand-in for this scenario)"
        )
        if judged.noisy_runs:
            w(
                f"  (noisy: other processes used over {NOISY_PERCENT}% of a core in {judged.noisy_runs} of "
                f"{len(results)} target runs; the ratios, the floor's above all, are unreliable: run again on a "
                "quiet machine)"
            )
        if judged.off_design_point:
            w("  (the targets are set for C=50, Sociocs latency 0.5 s and the bot's own settings: read loosely)")
        for v in judged.verdicts:
            shown = "" if v.limit is None else fmt(v.value, ".2f", v.unit)
            w(f"  {v.label:<48}{shown:>10}  {'PASS' if v.passed else 'MISS'}")
    return "\n".join(out)


def slack_limits_table(rows: list[dict[str, Any]], latency: float) -> str:
    """bench/slack_limits.py's Markdown table: one row per scenario, its numbers, target and verdict."""
    out = [
        f"\nSlack limits on, Sociocs {latency * 1000:.0f} ms\n",
        "| scenario | visible (s) | Slack calls | 429s | outcomes shown | summaries / backwards | private | target | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        visible = f"{r['visible_s']:.1f}" if r["visible_s"] is not None else "timed out"
        summaries = f"{r['backwards']} backwards" if "backwards" in r else r["summaries"]
        out.append(
            f"| {r['scenario']} | {visible} | {r['slack_calls']} | {r['429s']} | {r['shown']} | {summaries} "
            f"| {r['private']} | {r['target']} | {'pass' if r['pass'] else 'MISS'} |"
        )
    return "\n".join(out)
