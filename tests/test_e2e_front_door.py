"""The front door: hostile or broken requests are refused cheaply, with one WARNING line and no traceback."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlparse

import httpx
import pytest

from bot.front_door import json_depth, loads_limited, slack_signature_ok, slack_timestamp_fresh
from bot.sociocs.webhooks import sign as sociocs_sign
from standins import SlackStandin, SociocsStandin
from tests.conftest import (
    SIGNING_SECRET,
    RunningBot,
    bot_env,
    new_number,
    settle,
    sign,
    start_bot,
    wait_outcome,
)
from tests.test_e2e_command import sociocs_bodies

WEBHOOK_SECRET = "front-door-webhook-secret"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def door(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    running = start_bot(
        bot_env(slack, sociocs, SOCIOCS_WEBHOOK_SECRET=WEBHOOK_SECRET), slack, tmp_path_factory.mktemp("door")
    )
    yield running
    running.stop()


def warnings(bot: RunningBot) -> list[str]:
    return [line for line in bot.logs().splitlines() if " WARNING " in line]


def wait_warning(bot: RunningBot, before: int, words: str) -> list[str]:
    """The WARNING lines logged since `before`, once one of them says `words`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = warnings(bot)[before:]
        if any(words in line for line in new):
            return new
        time.sleep(0.05)
    raise AssertionError(f"no warning saying {words!r}")


def rss_kb(bot: RunningBot) -> int:
    for line in Path(f"/proc/{bot.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_post(bot: RunningBot, path: str, head: dict[str, str], body: bytes, *, hang_up_after: int | None = None) -> str:
    """POST over a bare socket; with `hang_up_after`, send only that many body bytes and close."""
    url = urlparse(bot.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        lines = [f"POST {path} HTTP/1.1", f"Host: {url.hostname}", *(f"{k}: {v}" for k, v in head.items()), "", ""]
        conn.sendall("\r\n".join(lines).encode() + body[: hang_up_after if hang_up_after is not None else len(body)])
        if hang_up_after is not None:
            return ""
        return conn.recv(65536).decode(errors="replace")


# The pieces ----------------------------------------------------------------------------------------------


def test_slack_signature_is_the_v0_hmac_of_timestamp_and_body():
    body = "token=x&text=hi"
    headers = sign(body, timestamp=1_700_000_000)
    assert slack_signature_ok(SIGNING_SECRET, "1700000000", body.encode(), headers["X-Slack-Signature"])
    assert not slack_signature_ok(SIGNING_SECRET, "1700000001", body.encode(), headers["X-Slack-Signature"])
    assert not slack_signature_ok("other", "1700000000", body.encode(), headers["X-Slack-Signature"])
    assert not slack_signature_ok(SIGNING_SECRET, "1700000000", body.encode(), "v0=ü")
    assert slack_timestamp_fresh(str(int(time.time()) - 290))
    assert not slack_timestamp_fresh(str(int(time.time()) - 310))
    assert not slack_timestamp_fresh(str(int(time.time()) + 310))
    assert not slack_timestamp_fresh("12a") and not slack_timestamp_fresh("9" * 40)


def test_json_depth_is_counted_without_recursion():
    assert json_depth('{"a": [1, {"b": "[[[{"}], "c": "\\"]]]"}') == 3
    assert json_depth("[" * 100_000 + "]" * 100_000) == 100_000
    assert json_depth('"' + '\\"' * 200_000) == 0  # an unterminated string: linear, no backtracking
    with pytest.raises(Exception, match="nested deeper than 32"):
        loads_limited("[" * 33 + "]" * 33, "the body")
    assert loads_limited("[" * 32 + "]" * 32, "the body") is not None


# /slack/events -------------------------------------------------------------------------------------------


def signed_garbage(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    ts = str(int(time.time()))
    import hashlib
    import hmac

    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}, body


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("empty, unsigned", lambda: ({}, b""), 401),
        ("binary, unsigned", lambda: ({"Content-Type": "application/octet-stream"}, bytes(range(256)) * 40), 401),
        ("form, unsigned", lambda: ({"Content-Type": FORM}, b"payload=%7Bnot+json"), 401),
        ("json, wrong type, unsigned", lambda: ({"Content-Type": "text/plain"}, b'{"type": "event_callback"}'), 401),
        ("huge, unsigned", lambda: ({"Content-Type": FORM}, b"a=" + b"x" * (3 * 1024 * 1024)), 401),
        ("stale", lambda: ({**sign("a=b", timestamp=int(time.time()) - 600), "Content-Type": FORM}, b"a=b"), 401),
        ("wrong secret", lambda: ({**sign("a=b", secret="nope"), "Content-Type": FORM}, b"a=b"), 401),
        ("bad timestamp", lambda: ({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}, b"a=b"), 401),
        ("huge, signed", lambda: signed_garbage(FORM, b"a=" + b"x" * (1024 * 1024)), 413),
        ("binary, signed", lambda: signed_garbage(FORM, b"\xff\xfe" * 100), 400),
        ("wrong content type, signed", lambda: signed_garbage("text/plain", b"command=/sms"), 400),
        ("no content type, signed", lambda: signed_garbage("", b"command=/sms"), 400),
        ("payload not JSON, signed", lambda: signed_garbage(FORM, b"payload=%7Bnot+json"), 400),
        ("payload a list, signed", lambda: signed_garbage(FORM, b"payload=%5B1%5D"), 400),
        ("json not an object, signed", lambda: signed_garbage("application/json", b"[1, 2]"), 400),
        ("json too deep, signed", lambda: signed_garbage("application/json", b"[" * 50_000 + b"]" * 50_000), 400),
        ("empty, signed", lambda: signed_garbage(FORM, b""), 400),
    ],
)
def test_garbage_is_refused_with_one_warning_and_no_traceback(door: RunningBot, slack: SlackStandin, name, make, code):
    headers, body = make()
    before = len(warnings(door))
    response = door.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == code, name
    settle(door, slack)
    new = warnings(door)[before:]
    assert len(new) == 1 and "refused a Slack request" in new[0], new
    assert "Traceback" not in door.logs()


def test_a_declared_length_over_the_cap_is_refused_before_reading(door: RunningBot):
    headers, _ = signed_garbage(FORM, b"a=b")
    answer = raw_post(door, "/slack/events", {**headers, "Content-Length": str(50 * 1024 * 1024)}, b"a=b")
    assert answer.startswith("HTTP/1.1 413")
    assert "Traceback" not in door.logs()


def test_a_command_saying_payload_is_still_a_command(door: RunningBot, slack: SlackStandin, sociocs: SociocsStandin):
    # Bolt reads any form containing the word "payload" as an interaction; the front door reads forms right.
    number = new_number()
    assert door.command(f"{number} your payload=ready is here").status_code == 200
    wait_outcome(slack, number)
    assert [b["text"] for b in sociocs_bodies(sociocs, number)] == ["your payload=ready is here"]


def test_a_flood_of_huge_bodies_costs_no_memory_and_real_commands_go_through(
    door: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    settle(door, slack)
    baseline = rss_kb(door)
    huge = b"a=" + b"x" * (10 * 1024 * 1024)
    ts = str(int(time.time()))

    def flood(i: int) -> int:
        headers = {"Content-Type": FORM}
        if i % 2:  # looks signed: refused on its size, the signature is never computed
            headers |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + "0" * 64}
        content: bytes | Iterator[bytes] = huge
        if i % 3 == 0:  # chunked, no length declared: read up to the cap only
            content = iter([huge[j : j + 65536] for j in range(0, len(huge), 65536)])
        with httpx.Client(base_url=door.url, timeout=30) as client:
            return client.post("/slack/events", content=content, headers=headers).status_code

    numbers = [new_number() for _ in range(5)]
    with concurrent.futures.ThreadPoolExecutor(15) as pool:
        floods = [pool.submit(flood, i) for i in range(10)]
        commands = [pool.submit(door.command, f"{n} real work") for n in numbers]
        answers = [f.result() for f in floods]
        acks = [c.result() for c in commands]
    peak = rss_kb(door)
    assert sorted(answers) == [401] * 5 + [413] * 5
    assert [a.status_code for a in acks] == [200] * 5
    for n in numbers:
        wait_outcome(slack, n)
        assert len(sociocs_bodies(sociocs, n)) == 1
    assert (peak - baseline) < 30 * 1024, f"RSS grew {(peak - baseline) / 1024:.1f} MB"
    assert "Traceback" not in door.logs()


def test_a_slack_client_hanging_up_mid_body_is_one_line(door: RunningBot, slack: SlackStandin):
    before = len(warnings(door))
    body = urlencode({"command": "/sms", "text": "hi"}).encode() * 20
    headers, _ = signed_garbage(FORM, body)
    raw_post(door, "/slack/events", {**headers, "Content-Length": str(len(body))}, body, hang_up_after=10)
    new = wait_warning(door, before, "hung up")
    settle(door, slack)
    assert len(new) == 1
    assert "Traceback" not in door.logs() and "Exception" not in door.logs()


# /sociocs/webhook ----------------------------------------------------------------------------------------


def test_a_deeply_nested_webhook_is_refused_without_recursion(door: RunningBot, slack: SlackStandin):
    before = len(warnings(door))
    for depth in (33, 100_000):
        body = b'{"event": "message", "x": ' + b"[" * depth + b"]" * depth + b"}"
        answer = door.http.post(
            "/sociocs/webhook", content=body, headers={"X-Sociocs-Signature": sociocs_sign(WEBHOOK_SECRET, body)}
        )
        assert answer.status_code == 400
        assert "nested deeper than 32" in json.dumps(answer.json())
    settle(door, slack)
    assert len(warnings(door)[before:]) == 2
    assert "Traceback" not in door.logs() and "RecursionError" not in door.logs()


def test_a_webhook_sender_hanging_up_mid_body_is_one_line(door: RunningBot, slack: SlackStandin):
    before = len(warnings(door))
    body = json.dumps({"event": "status_update", "message_id": "SMHANG", "event_data": {"status": "sent"}}).encode()
    head = {"Content-Type": "application/json", "Content-Length": str(len(body)), "X-Sociocs-Signature": "00"}
    raw_post(door, "/sociocs/webhook", head, body, hang_up_after=12)
    new = wait_warning(door, before, "hung up")
    settle(door, slack)
    assert len(new) == 1, new
    assert "Traceback" not in door.logs() and "Exception" not in door.logs()
