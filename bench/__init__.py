"""The benchmarks: scripts, not tests (see bench/README.md). Run them by path, e.g. `python bench/run.py`.

- run.py: the entry point of the floor/peer/bot benchmark (CLI, rounds, JSON results).
- load.py: signed `/sms` commands and the closed-loop load generator over a minimal HTTP/1.1 client.
- processes.py: starting, pinning and stopping the servers under test, the stand-ins' process, py-spy.
- system.py: what is read from /proc: RSS, CPU, other processes' CPU, the machine.
- measure.py: one target for one round: the load, the outcomes, the exactly-once checks.
- stats.py: percentiles and the numbers pooled over rounds (pure).
- targets.py: the targets and the verdicts computed from the measured numbers (pure).
- report.py: the printed table and Markdown, from numbers and verdicts already computed (formatting only).
- baselines.py, standin_server.py: the floor/peer servers and the stand-ins, each run as a process.
- slack_limits.py: issue 11's scenarios under Slack's limits (its own entry point).
"""
