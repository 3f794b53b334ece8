"""The processes of a run: the servers under test (bot, floor, peer), the stand-ins' process, py-spy."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import BOT_TOKEN, CHANNEL_KEY, HOST, SIGNING_SECRET, SOCIOCS_API_KEY, HttpConnection, http_get
from bench.system import proc_cpu_seconds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

TARGETS = {
    "floor": "raw ASGI + signature check",
    "peer": "bare Bolt App (sync), asgi adapter",
    "bot": "python -m bot (http mode)",
}

# The bot's settings at the targets' design point (issue 18): Sociocs concurrency raised to 128, and
# 100 recipients allowed for the fan-out scenario (bench/fanout.py). `--bot-env` overrides them.
DESIGN_BOT_ENV = {"SOCIOCS_MAX_CONCURRENCY": "128", "MAX_RECIPIENTS": "100"}
READY_TIMEOUT = 30.0  # per process start
STOP_TIMEOUT = 30.0  # per process stop


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The harness's environment without any of the bot's own settings, plus `extra`."""
    from bot.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------------
# Processes


class StandinProcess:
    """bench/standin_server.py in its own process, so the stand-ins never compete with the load generator's loop."""

    def __init__(
        self, slack_latency: float, sociocs_latency: float, logdir: Path, lookup_latency: float | None = None
    ) -> None:
        self.log = open(logdir / "standins.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(HERE / "standin_server.py"),
                f"--slack-latency={slack_latency}",
                f"--sociocs-latency={sociocs_latency}",
                *([f"--lookup-latency={lookup_latency}"] if lookup_latency is not None else []),
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
                **DESIGN_BOT_ENV,
                **({"PYTHONPATH": str(args.bot_source)} if args.bot_source else {}),
                **args.bot_env,
            }
        )
    else:
        argv = [
            PYTHON,
            str(HERE / "baselines.py"),
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
            "--nonblocking",  # never pause the bot to sample it: the profile must not slow what it measures
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


def export_revision(rev: str, workdir: Path) -> tuple[Path, str]:
    """`git archive REV bot` into the work directory, run from there via PYTHONPATH."""
    root = ROOT
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


def byte_compile(source: Path) -> None:
    """Compile the bot's modules to bytecode before it starts, as deployed: pip compiles them when it
    installs the package (the Docker image), so the deployed bot never compiles its own source at
    start-up. Run from a source tree instead, with PYTHONDONTWRITEBYTECODE set (as on the bench
    machines) it would compile all of it, some 150 ms of CPU, at every start, and a work tree that a
    test run happened to leave `__pycache__` in would start faster than an exported revision."""
    try:
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(source / "bot")], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench: cannot byte-compile {source / 'bot'}: {exc}") from None


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
