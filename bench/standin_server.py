"""The benchmark's stand-in process: the Slack and Sociocs stand-ins with latency, timestamps and a control port.

Run by bench/run.py as a subprocess (so the stand-ins never share a CPU-bound event loop with the
load generator). It prints one JSON line with its URLs, then serves until its standard input closes
or it gets SIGTERM/SIGINT.

Timestamps are `time.monotonic()` (CLOCK_MONOTONIC, one clock for every process on a Linux machine),
so run.py can compare them with the times it sent each command.

Control port (127.0.0.1 only):
- `GET /records`: every chat.postMessage and Sociocs `POST /message` seen since the last reset, with
  arrival times, plus counts by Slack method and the peak number of Sociocs requests in flight.
- `POST /reset`: forget everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: standins/ is not installed

from standins import SlackCall, SlackStandin, SociocsStandin


class BenchSlack(SlackStandin):
    """The Slack stand-in, answering every Web API call `latency` seconds after it arrives."""

    def __init__(self, latency: float, bot_token: str) -> None:
        # Slack's rate limits off: this scenario measures acknowledgement latency and send throughput
        # (400 commands into one channel would otherwise be paced at Slack's one post a second);
        # bench/slack_limits.py measures reporting under the limits.
        super().__init__(bot_token=bot_token, on_call=self._stamp, limits=False)
        self.latency = latency
        self.posts: list[dict[str, Any]] = []
        self.methods: dict[str, int] = {}

    def _stamp(self, call: SlackCall) -> None:
        now = time.monotonic()
        self.methods[call.method] = self.methods.get(call.method, 0) + 1
        if call.method == "chat.postMessage":
            self.posts.append(
                {
                    "t": now,
                    "channel": call.args.get("channel"),
                    "thread_ts": call.args.get("thread_ts") or None,
                    "text": str(call.args.get("text") or ""),
                }
            )

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)  # records on arrival (via on_call)
        if self.latency:
            await asyncio.sleep(self.latency)
        return response

    def reset(self) -> None:
        self.clear()
        self.posts.clear()
        self.methods.clear()


class BenchSociocs(SociocsStandin):
    """The Sociocs stand-in, stamping each `POST /message` on arrival and on answer, and counting in-flight."""

    def __init__(self, latency: float, api_key: str, channel_key: str, lookup_latency: float | None = None) -> None:
        super().__init__(
            api_key=api_key, channel_keys={"twlo": [channel_key]}, latency=latency, lookup_latency=lookup_latency
        )
        self.sends: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    async def _message(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        record: dict[str, Any] = {"t": arrived, "to": None, "status": None, "t_done": None}
        self.sends.append(record)
        try:
            try:  # aiohttp keeps the body, so super() reads the same bytes again
                body = json.loads(await request.read())
                record["to"] = body.get("to") if isinstance(body, dict) else None
            except ValueError:
                pass
            response = await super()._message(request)
        finally:
            self.in_flight -= 1
        record["t_done"] = time.monotonic()
        record["status"] = response.status
        return response

    def reset(self) -> None:
        self.clear()
        self.sends.clear()
        self.peak_in_flight = self.in_flight


def control_app(slack: BenchSlack, sociocs: BenchSociocs) -> web.Application:
    async def records(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "slack_posts": slack.posts,
                "slack_methods": slack.methods,
                "sociocs_sends": sociocs.sends,
                "sociocs_peak_in_flight": sociocs.peak_in_flight,
                "sociocs_in_flight": sociocs.in_flight,
            }
        )

    async def reset(_: web.Request) -> web.Response:
        slack.reset()
        sociocs.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/records", records)
    app.router.add_post("/reset", reset)
    return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slack-latency", type=float, default=0.0)
    parser.add_argument("--sociocs-latency", type=float, default=0.5)
    parser.add_argument("--lookup-latency", type=float, default=None, help="contact lookups (default: the same)")
    parser.add_argument("--bot-token", required=True)
    parser.add_argument("--sociocs-api-key", required=True)
    parser.add_argument("--channel-key", required=True)
    args = parser.parse_args()

    slack = BenchSlack(args.slack_latency, args.bot_token)
    sociocs = BenchSociocs(args.sociocs_latency, args.sociocs_api_key, args.channel_key, args.lookup_latency)
    await slack.start()
    await sociocs.start()
    control = web.AppRunner(control_app(slack, sociocs), access_log=None, handle_signals=False)
    await control.setup()
    site = web.TCPSite(control, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:  # the harness went away: stop too
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"slack": slack.url, "sociocs": sociocs.url, "control": f"http://127.0.0.1:{port}"}), flush=True)
    await stop.wait()
    await control.cleanup()
    await slack.stop()
    await sociocs.stop()


if __name__ == "__main__":
    asyncio.run(main())
