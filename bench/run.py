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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"  # every request this harness makes goes to loopback

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench-0000-token"
SOCIOCS_API_KEY = "bench:sociocs-secret"
CHANNEL_KEY = "ck-bench-twlo"
TEAM_ID, CHANNEL_ID, USER_ID = "T0STANDIN", "C0GENERAL", "U0SENDER"

NUMBER_PREFIX = "+1617555"
NUMBER_RE = re.compile(re.escape(NUMBER_PREFIX) + r"\d{4}")
MAX_COMMANDS = 10_000  # +1617555 0000..9999

TARGETS = {
    "floor": "raw ASGI + signature check",
    "peer": "bare Bolt App (sync), asgi adapter",
    "bot": "python -m bot (http mode)",
}

TARGET_RATIO = {"peer": 0.4, "floor": 5.0}  # bot ack p99 / baseline ack p99, at most
NOISY_PERCENT = 50  # other processes' CPU (% of one core) during a target's run above which the table warns

REQUEST_TIMEOUT = 30.0  # per request
READY_TIMEOUT = 30.0  # per process start
STOP_TIMEOUT = 30.0  # per process stop


# ---------------------------------------------------------------------------------------------------
# Small helpers


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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


try:  # not a dependency of this project; used for RSS when it happens to be installed
    import psutil
except ImportError:
    psutil = None


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB: RSS from psutil when installed, else (and the high-water mark) from /proc."""
    out: dict[str, int] = {}
    if psutil is not None:
        with contextlib.suppress(Exception):
            out["VmRSS"] = psutil.Process(pid).memory_info().rss // 1024
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out.setdefault(key, int(value.split()[0]))
    except OSError:
        pass
    return out


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def system_busy_seconds() -> float | None:
    """CPU seconds all processes on the machine have used (non-idle time in /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuWindow:
    """CPU used by processes other than the harness, the stand-ins and the target, over a stretch of time."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self._read()

    def _read(self) -> tuple[float, float | None, float]:
        ours = sum(proc_cpu_seconds(pid) or 0.0 for pid in self.pids) + time.process_time()
        return time.monotonic(), system_busy_seconds(), ours

    def other_percent(self) -> float | None:
        """Other processes' CPU as a percentage of one core (100 = one core busy all along)."""
        t1, busy1, ours1 = self._read()
        t0, busy0, ours0 = self.start
        if busy0 is None or busy1 is None or t1 <= t0:
            return None
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (t1 - t0) * 100


def mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The harness's environment without any of the bot's own settings, plus `extra`."""
    from bot.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client over asyncio streams: far cheaper per request than a full client library,
# so the load generator is not what limits the fastest target.


class HttpConnection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        self.writer.write(data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if b":" in line:
                key, value = line.split(b":", 1)
                headers[key.strip().lower()] = value.strip()
        close = headers.get(b"connection", b"").lower() == b"close"
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.read()
            close = True
        if close:
            await self.close()
        return status, body


def get_request(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()


async def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = HttpConnection(port)
    try:
        return await asyncio.wait_for(conn.request(get_request(port, path)), timeout)
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------------
# The commands


@dataclass
class Command:
    index: int
    number: str
    request: bytes
    t_sent: float = 0.0
    t_ack: float = 0.0
    status: int | None = None
    ack_body: bytes = b""
    error: str | None = None


def bench_numbers(count: int) -> list[str]:
    numbers = [f"{NUMBER_PREFIX}{i:04d}" for i in range(count)]
    for n in numbers:  # every recipient must be a valid number, or the bot would rightly refuse it
        if not phonenumbers.is_valid_number(phonenumbers.parse(n)):
            raise SystemExit(f"bench: {n} is not a valid number for phonenumbers; pick another range")
    return numbers


def sign(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def build_commands(port: int, numbers: list[str], slack_url: str, first: int = 0) -> list[Command]:
    """Signed slash-command requests, built before the clock starts (signatures are good for 5 minutes)."""
    timestamp = str(int(time.time()))
    commands = []
    for i, number in enumerate(numbers, start=first):
        body = urllib.parse.urlencode(
            {
                "token": "bench-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "standin",
                # A channel per command: the bot paces posts at Slack's one a second per channel, and
                # this scenario measures throughput across many conversations (the stand-in's limits
                # are off here; bench/slack_limits.py measures one busy channel under them).
                "channel_id": f"{CHANNEL_ID}{i}",
                "channel_name": "general",
                "user_id": USER_ID,
                "user_name": "jane.sender",
                "command": "/sms",
                "text": f"{number} bench message {i}",
                "api_app_id": "A0BENCH",
                "is_enterprise_install": "false",
                "response_url": f"{slack_url}/response/cmd-{i}",
                "trigger_id": f"{i}.bench.trigger",
            }
        ).encode()
        head = (
            f"POST /slack/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Slack-Request-Timestamp: {timestamp}\r\n"
            f"X-Slack-Signature: {sign(body, timestamp)}\r\n\r\n"
        ).encode()
        commands.append(Command(i, number, head + body))
    return commands


async def load(port: int, commands: list[Command], concurrency: int) -> float:
    """Send every command from `concurrency` keep-alive clients in a closed loop; returns wall seconds."""
    queue = iter(commands)

    async def client() -> None:
        conn = HttpConnection(port)
        try:
            for cmd in queue:
                cmd.t_sent = time.monotonic()
                try:
                    cmd.status, cmd.ack_body = await asyncio.wait_for(conn.request(cmd.request), REQUEST_TIMEOUT)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    cmd.error = f"{type(exc).__name__}: {exc}"[:200]
                    await conn.close()
                cmd.t_ack = time.monotonic()
        finally:
            await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(max(1, min(concurrency, len(commands))))))
    return time.monotonic() - started


# ---------------------------------------------------------------------------------------------------
# Processes


class StandinProcess:
    """bench/_standins.py in its own process, so the stand-ins never compete with the load generator's loop."""

    def __init__(self, slack_latency: float, sociocs_latency: float, logdir: Path) -> None:
        self.log = open(logdir / "standins.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(HERE / "_standins.py"),
                f"--slack-latency={slack_latency}",
                f"--sociocs-latency={sociocs_latency}",
                f"--bot-token={BOT_TOKEN}",
                f"--sociocs-api-key={SOCIOCS_API_KEY}",
                f"--channel-key={CHANNEL_KEY}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=logdir,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise SystemExit(f"bench: the stand-ins did not start; see {logdir / 'standins.log'}")
        urls = json.loads(line)
        self.slack_url: str = urls["slack"]
        self.sociocs_url: str = urls["sociocs"]
        self.control_port = int(urls["control"].rsplit(":", 1)[1])

    async def records(self) -> dict[str, Any]:
        status, body = await http_get(self.control_port, "/records", timeout=30)
        assert status == 200, status
        return json.loads(body)  # type: ignore[no-any-return]

    async def reset(self) -> None:
        conn = HttpConnection(self.control_port)
        try:
            req = f"POST /reset HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            status, _ = await asyncio.wait_for(conn.request(req), 10)
            assert status == 200, status
        finally:
            await conn.close()

    def cpu_seconds(self) -> float | None:
        return proc_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@dataclass
class Target:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    t_start: float
    startup_s: float | None = None


def start_target(name: str, standins: StandinProcess, workdir: Path, round_no: int, args: argparse.Namespace) -> Target:
    port = free_port()
    log_path = workdir / f"{name}-round{round_no}.log"
    if name == "bot":
        argv = [PYTHON, "-m", "bot"]
        env = clean_env(
            {
                "SLACK_MODE": "http",
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "HOST": HOST,
                "PORT": str(port),
                "SLACK_API_URL": f"{standins.slack_url}/api/",
                "SOCIOCS_API_KEY": SOCIOCS_API_KEY,
                "SOCIOCS_BASE_URL": standins.sociocs_url,
                "SOCIOCS_CHANNEL_KEY_TWLO": CHANNEL_KEY,
                "LOG_LEVEL": "WARNING",
                **({"PYTHONPATH": str(args.bot_source)} if args.bot_source else {}),
                **args.bot_env,
            }
        )
    else:
        argv = [
            PYTHON,
            str(HERE / "_baselines.py"),
            name,
            f"--port={port}",
            f"--signing-secret={SIGNING_SECRET}",
            f"--bot-token={BOT_TOKEN}",
            f"--slack-api-url={standins.slack_url}/api/",
        ]
        env = clean_env({})
    log = open(log_path, "wb")  # noqa: SIM115 (the child holds it; closed right after the fork)
    t_start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    log.close()
    if args.server_cpus:
        os.sched_setaffinity(proc.pid, args.server_cpus)
    return Target(name, proc, port, log_path, t_start)


async def wait_ready(target: Target) -> None:
    """Poll until the target answers: `/readyz` 200 for the bot, any HTTP answer for the baselines."""
    deadline = target.t_start + READY_TIMEOUT
    while time.monotonic() < deadline:
        if target.proc.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {target.proc.returncode}: {tail(target.log_path)}")
        try:
            status, _ = await http_get(target.port, "/readyz", timeout=2)
            if target.name != "bot" or status == 200:
                target.startup_s = time.monotonic() - target.t_start
                return
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        await asyncio.sleep(0.005)
    raise RuntimeError(f"{target.name} was not ready within {READY_TIMEOUT:g} s: {tail(target.log_path)}")


def stop_target(target: Target) -> dict[str, Any]:
    """SIGTERM, then wait (bounded); SIGKILL only this process if it does not go."""
    if target.proc.poll() is not None:
        return {"exit_code": target.proc.returncode, "stop_s": 0.0, "killed": False}
    t0 = time.monotonic()
    target.proc.send_signal(signal.SIGTERM)
    killed = False
    try:
        target.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        target.proc.kill()
        target.proc.wait(5)
        killed = True
    return {"exit_code": target.proc.returncode, "stop_s": time.monotonic() - t0, "killed": killed}


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_py_spy(directory: Path, target: Target, round_no: int) -> tuple[subprocess.Popen[bytes], Path]:
    """Sample the bot with py-spy (installed separately; not a project dependency) during the measured load."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory.resolve() / f"bot-round{round_no + 1}.collapsed.txt"
    spy = Path(PYTHON).with_name("py-spy")
    proc = subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(target.proc.pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--threads",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it attach
    return proc, out


def stop_py_spy(spy: tuple[subprocess.Popen[bytes], Path]) -> str:
    proc, out = spy
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    return str(out)


# ---------------------------------------------------------------------------------------------------
# One target, one round


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss = proc_status(pid).get("VmRSS")
        if rss is not None:
            peak[0] = max(peak[0], rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


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


# ---------------------------------------------------------------------------------------------------
# Report


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def pooled(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [v for r in runs for v in r.get(key, [])]


def aggregate(results: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
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


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def render(config: dict[str, Any], results: list[dict[str, Any]], agg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    targets = [t for t in TARGETS if t in agg]
    out: list[str] = []
    w = out.append
    w(
        f"sociocs-slack-bot benchmark  N={config['n']} C={config['c']} rounds={config['rounds']} "
        f"warm-up={config['warmup']}  sociocs latency {config['sociocs_latency']:g} s, "
        f"slack latency {config['slack_latency']:g} s"
    )
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
    ratios: dict[str, Any] = {}
    round_ratios: dict[str, list[float | None]] = {}
    if "bot" in agg:
        for base in ("peer", "floor"):
            if base in agg:
                b, p = agg["bot"]["ack_ms"], agg[base]["ack_ms"]
                ratios[f"bot/{base}"] = {k: ratio(b[k], p[k]) for k in ("p50", "p95", "p99", "max")}
                r = ratios[f"bot/{base}"]
                w(
                    f"  {'bot / ' + base:<40}{fmt(r['p50'], '.2f', 'x'):>8}{fmt(r['p95'], '.2f', 'x'):>8}"
                    f"{fmt(r['p99'], '.2f', 'x'):>8}{fmt(r['max'], '.2f', 'x'):>8}"
                )
        per_round = []
        for rn in range(config["rounds"]):
            row = {r["target"]: r["ack_ms"]["p99"] for r in results if r["round"] == rn}
            if "bot" not in row:
                continue
            bits = [f"round {rn + 1}: bot p99 {fmt(row['bot'])}"]
            for base in ("peer", "floor"):
                if base in row:
                    rr = ratio(row["bot"], row[base])
                    round_ratios.setdefault(base, []).append(rr)
                    bits.append(f"{base} p99 {fmt(row[base])} ({fmt(rr, '.2f', 'x')})")
            noise = [r.get("other_cpu_percent") or 0.0 for r in results if r["round"] == rn]
            per_round.append("  " + ", ".join(bits) + f"; others' CPU up to {max(noise):.0f}%")
        if config["rounds"] > 1:
            out.extend(per_round)
            for base, values in round_ratios.items():
                known = [v for v in values if v is not None]
                if known:
                    w(
                        f"  bot p99 / {base} p99, median of rounds {statistics.median(known):.2f}x "
                        f"(rounds above the target: {sum(v > TARGET_RATIO[base] for v in known)} of {len(known)})"
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

    verdicts: dict[str, Any] = {}
    if "bot" in agg:
        bot = agg["bot"]
        checks: list[tuple[str, float | None, float, str, str]] = []
        for base, label in (("peer", "ack p99 <= 0.4x bare-Bolt peer"), ("floor", "ack p99 <= 5x floor")):
            known = [v for v in round_ratios.get(base, []) if v is not None]
            if known:  # the median of per-round ratios: each round's targets ran back to back
                checks.append((label + " (median round)", statistics.median(known), TARGET_RATIO[base], "x", "<="))
        sends = [s for s in bot["sends_per_s"] if s is not None]
        checks.append(("sends/s >= 60 (worst round)", min(sends) if sends else None, 60.0, "/s", ">="))
        checks.append(("peak RSS < 150 MB (worst round)", bot["rss_peak_mb_max"], 150.0, " MB", "<"))
        starts = [s for s in bot["startup_s"] if s]
        checks.append(("start-up to ready < 2 s (worst round)", max(starts) if starts else None, 2.0, " s", "<"))
        integrity_ok = all(
            not any(
                r.get("integrity_with_warmup", {}).get(k)
                for k in ("missing_sociocs", "duplicate_sociocs", "missing_reply", "duplicate_reply", "reply_not_sent")
            )
            and not r.get("ack_errors")
            and not r.get("ack_with_body")
            for r in results
            if r["target"] == "bot"
        )
        w(f"targets (C={config['c']}, Sociocs latency {config['sociocs_latency']:g} s)")
        busy = [r for r in results if (r.get("other_cpu_percent") or 0) > NOISY_PERCENT]
        if busy:
            w(
                f"  (noisy: other processes used over {NOISY_PERCENT}% of a core in {len(busy)} of {len(results)} "
                "target runs; the ratios, the floor's above all, are unreliable: run again on a quiet machine)"
            )
        if config["c"] != 50 or config["sociocs_latency"] != 0.5 or config.get("bot_env"):
            w("  (the targets are set for C=50, Sociocs latency 0.5 s and the bot's own settings: read loosely)")
        for label, value, limit, unit, op in checks:
            passed = value is not None and (
                value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit
            )
            verdicts[label] = {"value": value, "limit": limit, "pass": passed}
            w(f"  {label:<48}{fmt(value, '.2f', unit):>10}  {'PASS' if passed else 'MISS'}")
        verdicts["exactly once, all sent, no ack errors"] = {"pass": integrity_ok}
        w(f"  {'exactly once, all sent, no ack errors':<48}{'':>10}  {'PASS' if integrity_ok else 'MISS'}")
    return "\n".join(out), {"ratios": ratios, "verdicts": verdicts}


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("slack_bolt", "slack_sdk", "uvicorn", "starlette", "aiohttp", "httpx"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[pkg] = version(pkg.replace("_", "-"))
    git: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        root = HERE.parent
        run = subprocess.run
        git["commit"] = run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        changed = run(["git", "status", "--porcelain", "bot"], cwd=root, capture_output=True, text=True).stdout
        git["bot_files_changed"] = len(changed.splitlines())
    return {
        "git": git,
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


# ---------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one round with shorter settling (under a minute)")
    p.add_argument("-n", "--n", type=int, default=400, help="commands per target per round (default 400)")
    p.add_argument("-c", "--c", "--concurrency", dest="c", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--sociocs-latency", type=float, default=0.5, help="seconds the Sociocs stand-in takes (0.5)")
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
    if args.n + args.warmup > MAX_COMMANDS:
        p.error(f"N + warm-up must be at most {MAX_COMMANDS} (one distinct recipient per command)")
    if args.sociocs_latency < 0 or args.slack_latency < 0:
        p.error("latencies must not be negative")
    return args


def export_revision(rev: str, workdir: Path) -> tuple[Path, str]:
    """`git archive REV bot` into the work directory, run from there via PYTHONPATH."""
    root = HERE.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "--verify", rev + "^{commit}"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        source = workdir / f"bot-{commit}"
        source.mkdir()
        archive = subprocess.run(["git", "archive", commit, "bot"], cwd=root, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench: cannot export {rev!r} from git: {exc}") from None
    return source, commit


def pin(args: argparse.Namespace) -> None:
    """Give the server under test a CPU of its own; the harness and the stand-ins share the others."""
    args.server_cpus = set()
    if args.no_pin or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return
    args.server_cpus = {cpus[-1]}
    os.sched_setaffinity(0, set(cpus[:-1]))  # inherited by the stand-ins' process


async def main_async(args: argparse.Namespace) -> int:
    numbers = bench_numbers(args.warmup + args.n)
    pin(args)
    config = {
        "n": args.n,
        "c": args.c,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "sociocs_latency": args.sociocs_latency,
        "slack_latency": args.slack_latency,
        "targets": args.targets,
        "bot_env": args.bot_env,
        "server_cpus": sorted(args.server_cpus),
        "quick": args.quick,
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
        standins = StandinProcess(args.slack_latency, args.sociocs_latency, workdir)
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
    agg = aggregate(results, args.targets)
    table, verdict = render(config, results, agg)
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
