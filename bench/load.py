"""Load generation: signed `/sms` slash commands and a closed-loop load over a minimal HTTP/1.1 client."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import phonenumbers

HOST = "127.0.0.1"  # every request this harness makes goes to loopback

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench-0000-token"
SOCIOCS_API_KEY = "bench:sociocs-secret"
CHANNEL_KEY = "ck-bench-twlo"
TEAM_ID, CHANNEL_ID, USER_ID = "T0STANDIN", "C0GENERAL", "U0SENDER"

NUMBER_PREFIX = "+1617555"
NUMBER_RE = re.compile(re.escape(NUMBER_PREFIX) + r"\d{4}")
MAX_COMMANDS = 10_000  # +1617555 0000..9999

REQUEST_TIMEOUT = 30.0  # per request


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


def build_commands(
    port: int, numbers: list[str], slack_url: str, first: int = 0, text: str | None = None
) -> list[Command]:
    """Signed slash-command requests, built before the clock starts (signatures are good for 5 minutes).
    `text`: the whole command text for each (default: the number and a message)."""
    timestamp = str(int(time.time()))
    batch = uuid.uuid4().hex[:12]  # Slack gives every command a trigger_id of its own; the bot drops replays
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
                "text": text if text is not None else f"{number} bench message {i}",
                "api_app_id": "A0BENCH",
                "is_enterprise_install": "false",
                "response_url": f"{slack_url}/response/cmd-{i}",
                "trigger_id": f"{i}.{batch}.bench.trigger",
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
