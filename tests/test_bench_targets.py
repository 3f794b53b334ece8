"""The benchmarks' verdicts are a pure function of the measured numbers (bench/targets.py): no processes."""

from __future__ import annotations

from typing import Any

from bench import stats
from bench.targets import (
    EXACTLY_ONCE,
    SLACK_LIMITS,
    BotNumbers,
    judge,
    scenario_passed,
    verdicts,
)


def numbers(**changes: Any) -> BotNumbers:
    """A run that meets every target, with `changes`."""
    base: dict[str, Any] = {
        "ack_p99_ratios": {"peer": [0.3, 0.5, 0.2], "floor": [1.0, 1.5, 6.0]},  # medians 0.3 and 1.5
        "sends_per_s": [180.0, 151.0, 195.0],
        "rss_peak_mb": 95.0,
        "startup_s": [0.6, 0.9, 0.5],
        "faults": {"missing_reply": 0, "ack_errors": 0},
        "cpu_ms_per_send": [3.0, 3.5, 9.0],  # median 3.5
        "fanout_cpu_ms": [120.0, 140.0, 100.0],
    }
    return BotNumbers(**{**base, **changes})


def by_label(n: BotNumbers) -> dict[str, tuple[float | None, bool]]:
    return {v.label: (v.value, v.passed) for v in verdicts(n)}


def test_a_run_within_every_target_passes_each_in_the_tables_order() -> None:
    got = verdicts(numbers())
    assert [v.label for v in got] == [
        "ack p99 <= 0.4x bare-Bolt peer (median round)",
        "ack p99 <= 3x floor (median round)",
        "ack p99 <= 2x floor (median round)",
        "sends/s >= 150 (worst round)",
        "CPU per send <= 4 ms (median round)",
        "100-recipient command CPU <= 150 ms (worst round)",
        "peak RSS <= 100 MB (worst round)",
        "start-up to ready <= 1 s (worst round)",
        EXACTLY_ONCE,
    ]
    assert all(v.passed for v in got)
    # medians of rounds, then worst rounds
    assert [v.value for v in got[:8]] == [0.3, 1.5, 1.5, 151.0, 3.5, 140.0, 95.0, 0.9]


def test_each_target_misses_on_its_own_number() -> None:
    assert by_label(numbers(ack_p99_ratios={"peer": [0.5, 0.41, 0.1]}))[
        "ack p99 <= 0.4x bare-Bolt peer (median round)"
    ] == (0.41, False)
    assert by_label(numbers(ack_p99_ratios={"floor": [2.5]}))["ack p99 <= 2x floor (median round)"] == (2.5, False)
    assert by_label(numbers(ack_p99_ratios={"floor": [2.5]}))["ack p99 <= 3x floor (median round)"] == (2.5, True)
    assert by_label(numbers(sends_per_s=[180.0, 149.9]))["sends/s >= 150 (worst round)"] == (149.9, False)
    assert by_label(numbers(cpu_ms_per_send=[4.1, 4.2, 1.0]))["CPU per send <= 4 ms (median round)"] == (4.1, False)
    fanout = "100-recipient command CPU <= 150 ms (worst round)"
    assert by_label(numbers(fanout_cpu_ms=[100.0, 150.1]))[fanout] == (150.1, False)
    assert by_label(numbers(fanout_cpu_ms=[100.0, None]))[fanout] == (None, False)  # a round not measured
    assert fanout not in by_label(numbers(fanout_cpu_ms=[]))  # not run (--no-fanout): no verdict
    assert by_label(numbers(rss_peak_mb=100.1))["peak RSS <= 100 MB (worst round)"] == (100.1, False)
    assert by_label(numbers(startup_s=[0.5, 1.01]))["start-up to ready <= 1 s (worst round)"] == (1.01, False)
    assert by_label(numbers(faults={"duplicate_sociocs": 1}))[EXACTLY_ONCE] == (None, False)


def test_the_limits_themselves_pass_where_the_target_says_at_most_or_at_least() -> None:
    got = by_label(
        numbers(
            ack_p99_ratios={"peer": [0.4], "floor": [2.0]},
            sends_per_s=[150.0],
            cpu_ms_per_send=[4.0],
            fanout_cpu_ms=[150.0],
            rss_peak_mb=100.0,
            startup_s=[1.0],
        )
    )
    assert all(passed for _, passed in got.values())
    assert got["ack p99 <= 2x floor (median round)"] == (2.0, True)
    assert got["sends/s >= 150 (worst round)"] == (150.0, True)


def test_what_was_not_measured_misses_and_a_missing_baseline_has_no_verdict() -> None:
    got = by_label(
        numbers(
            ack_p99_ratios={"peer": [None]},
            sends_per_s=[None],
            rss_peak_mb=None,
            startup_s=[None],
            cpu_ms_per_send=[None],
        )
    )
    assert not any(label.startswith("ack p99") for label in got)  # no baseline ran: nothing to compare
    assert got["sends/s >= 150 (worst round)"] == (None, False)
    assert got["CPU per send <= 4 ms (median round)"] == (None, False)
    assert got["peak RSS <= 100 MB (worst round)"] == (None, False)
    assert got["start-up to ready <= 1 s (worst round)"] == (None, False)


def run(target: str, round_no: int, p99: float, **more: Any) -> dict[str, Any]:
    return {"target": target, "round": round_no, "ack_ms": {"p99": p99}, "ack_samples_ms": [p99], **more}


def test_judge_takes_the_numbers_from_the_per_round_results() -> None:
    bot = {"sends_per_s": 170.0, "rss_peak_mb": 90.0, "startup_s": 0.9, "ack_errors": 0, "ack_with_body": 0}
    fanout = {"recipients": 100, "sociocs_ok": 100, "all_answered": True}
    results = [
        run("peer", 0, 10.0),
        run("bot", 0, 3.0, **bot, integrity_with_warmup={"missing_reply": 0}, cpu_ms_per_command=3.0),
        run(
            "bot",
            1,
            9.0,
            **bot,
            other_cpu_percent=80.0,
            integrity_with_warmup={"duplicate_reply": 2},
            cpu_ms_per_command=5.0,
            fanout={**fanout, "cpu_ms": 160.0},
        ),
        run("peer", 1, 10.0),
    ]
    config = {"c": 50, "sociocs_latency": 0.5, "bot_env": {}}
    agg = stats.aggregate(results, ["peer", "bot"])
    per_round = stats.rounds(results, 2)
    assert [r.ratios for r in per_round] == [{"peer": 0.3}, {"peer": 0.9}]
    judged = judge(config, results, agg, stats.round_ratios(per_round))
    assert judged is not None
    assert judged.ratio_rounds == {"peer": (0.6, 1, 2)}  # median 0.6x, one round of two above 0.4x
    assert judged.noisy_runs == 1 and not judged.off_design_point
    shown = judged.as_json()
    assert shown["ack p99 <= 0.4x bare-Bolt peer (median round)"] == {"value": 0.6, "limit": 0.4, "pass": False}
    assert shown[EXACTLY_ONCE] == {"pass": False}  # the duplicate reply in round 2
    assert shown["CPU per send <= 4 ms (median round)"] == {"value": 4.0, "limit": 4.0, "pass": True}
    assert shown["100-recipient command CPU <= 150 ms (worst round)"] == {"value": 160.0, "limit": 150.0, "pass": False}
    assert judge({**config, "c": 100}, results, agg, {}).off_design_point  # type: ignore[union-attr]
    assert judge(config, [r for r in results if r["target"] != "bot"], stats.aggregate(results, ["peer"]), {}) is None


def test_slack_limits_scenarios_pass_only_within_every_limit() -> None:
    fanout = {"visible_s": 2.5, "slack_calls": 3, "private": 0, "429s": 0}
    assert scenario_passed(SLACK_LIMITS[1], fanout)
    assert not scenario_passed(SLACK_LIMITS[1], {**fanout, "slack_calls": 4})
    assert not scenario_passed(SLACK_LIMITS[1], {**fanout, "429s": 1})
    assert not scenario_passed(SLACK_LIMITS[1], {**fanout, "visible_s": None})  # timed out
    busy = {"visible_s": 44.0, "slack_calls": 200, "private": 0, "429s": 0}
    assert scenario_passed(SLACK_LIMITS[2], busy)  # calls are not limited there
    assert not scenario_passed(SLACK_LIMITS[2], {**busy, "private": 1})
    assert not scenario_passed(SLACK_LIMITS[2], {**busy, "visible_s": 45.1})
    delivered = {"visible_s": 4.0, "slack_calls": 9, "private": 0, "429s": 0, "backwards": 0}
    assert scenario_passed(SLACK_LIMITS[4], delivered)
    assert not scenario_passed(SLACK_LIMITS[4], {**delivered, "backwards": 1})
