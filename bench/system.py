"""What the harness reads from /proc: a process's RSS and CPU, other processes' CPU, the machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

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


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss = proc_status(pid).get("VmRSS")
        if rss is not None:
            peak[0] = max(peak[0], rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


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
        root = ROOT
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
