"""Percentiles and the numbers pooled over rounds: pure functions of the measured results."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

BASELINES = ("peer", "floor")  # what the bot's acknowledgement latency is compared with, in this order


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def pooled(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [v for r in runs for v in r.get(key, [])]


def aggregate(results: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
    """Per target, pooled over its rounds: ack latency, errors, start-up, memory, CPU (and the bot's sends)."""
    agg: dict[str, Any] = {}
    for name in targets:
        runs = [r for r in results if r["target"] == name]
        acks = pooled(runs, "ack_samples_ms")
        agg[name] = {
            "rounds": len(runs),
            "ack_ms": summary(acks),
            "acks_per_s_median": statistics.median([r["acks_per_s"] for r in runs if r.get("acks_per_s")] or [0]),
            "ack_errors": sum(r.get("ack_errors", 0) for r in runs),
            "startup_s": [r.get("startup_s") for r in runs],
            "rss_peak_mb_max": max((r.get("rss_peak_mb") or 0 for r in runs), default=None),
            "rss_settled_mb_max": max((r.get("rss_settled_mb") or 0 for r in runs), default=None),
            "cpu_ms_per_command_median": statistics.median(
                [r["cpu_ms_per_command"] for r in runs if r.get("cpu_ms_per_command") is not None] or [0]
            ),
        }
        if name == "bot":
            agg[name]["sends_per_s"] = [r.get("sends_per_s") for r in runs]
            agg[name]["e2e_p50_ms"] = [r.get("e2e_ms", {}).get("p50") for r in runs]
            agg[name]["e2e_p99_ms"] = [r.get("e2e_ms", {}).get("p99") for r in runs]
    return agg


def pooled_ratios(agg: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """The bot's pooled ack percentiles over each baseline's: {"bot/peer": {"p50": ..., ...}, ...}."""
    ratios: dict[str, dict[str, float | None]] = {}
    if "bot" in agg:
        for base in BASELINES:
            if base in agg:
                b, p = agg["bot"]["ack_ms"], agg[base]["ack_ms"]
                ratios[f"bot/{base}"] = {k: ratio(b[k], p[k]) for k in ("p50", "p95", "p99", "max")}
    return ratios


@dataclass
class Round:
    """One round in which the bot ran: each target's ack p99, the bot's ratio to each baseline, the noise."""

    index: int
    p99: dict[str, float | None]
    ratios: dict[str, float | None] = field(default_factory=dict)
    others_cpu_max: float = 0.0


def rounds(results: list[dict[str, Any]], count: int) -> list[Round]:
    """Per round (each round's targets ran back to back), the numbers the per-round ratios come from."""
    out: list[Round] = []
    for rn in range(count):
        row = {r["target"]: r["ack_ms"]["p99"] for r in results if r["round"] == rn}
        if "bot" not in row:
            continue
        ratios = {base: ratio(row["bot"], row[base]) for base in BASELINES if base in row}
        noise = [r.get("other_cpu_percent") or 0.0 for r in results if r["round"] == rn]
        out.append(Round(rn, row, ratios, max(noise)))
    return out


def round_ratios(per_round: list[Round]) -> dict[str, list[float | None]]:
    """Per baseline, the bot's ack p99 over the baseline's in each round that had both."""
    out: dict[str, list[float | None]] = {}
    for r in per_round:
        for base, value in r.ratios.items():
            out.setdefault(base, []).append(value)
    return out
