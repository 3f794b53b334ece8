"""The container image, built and run for real with podman (marker `container`).

Builds the Dockerfile against the local base image (`../shared/tools/container-base-image`, see
`../shared/tools/container.md`: no registry is reachable here), runs it on the host network against
the Slack and Sociocs stand-ins, sends a signed `/sms`, then sends SIGTERM during a slow send.
Skipped, with the reason, where podman is not installed; `.ci/run` installs it where it can.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from standins import SlackStandin, SociocsStandin
from standins.sociocs import Reply
from tests.conftest import (
    CHANNEL_KEYS,
    SECRETS,
    bot_env,
    free_port,
    new_number,
    replies_for,
    sign,
    trigger_id,
    wait_outcome,
)

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE_SCRIPT = ROOT.parent / "shared" / "tools" / "container-base-image"
BASE_IMAGE = os.environ.get("CONTAINER_BASE_IMAGE", "localhost/python-base:bookworm")
IMAGE = os.environ.get("CONTAINER_TEST_IMAGE", "localhost/sociocs-slack-bot:test")
UID = "10001"
GRACE_SECONDS = 10
SLOW_SEND_SECONDS = 4.0

# container.md: runc with cgroupfs (crun fails here), ulimits below the host's hard limits, host network.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096"]


def _unavailable(reason: str) -> None:
    """Skip where the machine cannot run containers; under CI=true a broken set-up is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.skip(
            "no container engine: podman is not installed "
            "(.ci/run installs it with ../shared/tools/container-base-image where apt-get can)"
        )
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        if not BASE_IMAGE_SCRIPT.exists():
            _unavailable(f"base image {BASE_IMAGE} is missing and {BASE_IMAGE_SCRIPT} is not there to build it")
        made = subprocess.run(["bash", str(BASE_IMAGE_SCRIPT), BASE_IMAGE], capture_output=True, text=True, timeout=600)
        if made.returncode != 0:
            _unavailable(f"could not build the base image {BASE_IMAGE}:\n{made.stderr[-2000:]}")
    # pip inside the build reaches PyPI through this machine's TLS set-up: lend it the host's CA bundle.
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    mounts = ["-v", f"{bundle}:{bundle}:ro"] if Path(bundle).is_file() else []
    started = time.monotonic()
    podman(
        "build",
        "--format",
        "docker",  # the OCI format drops HEALTHCHECK
        "--isolation=chroot",
        *mounts,
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "-t",
        IMAGE,
        str(ROOT),
        timeout=900,
    )
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    print(f"built {IMAGE} in {time.monotonic() - started:.0f}s, {size / 1e6:.0f} MB")
    return IMAGE


def healthcheck(image: str) -> dict[str, object]:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    # podman lists it beside Config, docker inside it
    found = inspected.get("Healthcheck") or inspected["Config"].get("Healthcheck") or {}
    assert isinstance(found, dict)
    return found


class Container:
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def command(self, text: str, user: str = "U0SENDER") -> httpx.Response:
        body = urlencode(
            {
                "team_id": "T0STANDIN",
                "channel_id": "C0GENERAL",
                "user_id": user,
                "command": "/sms",
                "text": text,
                "response_url": "http://127.0.0.1:9/unused",
                "trigger_id": trigger_id(),
                "api_app_id": "A0STANDIN",
            }
        )
        return self.http.post(
            "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        )

    def state(self) -> str:
        return podman("inspect", "--format", "{{.State.Status}}", self.name, check=False).stdout.strip()

    def remove(self) -> None:
        self.http.close()
        podman("rm", "--force", "--volumes", "--time", "0", self.name, check=False)


def start_container(
    image: str, slack: SlackStandin, sociocs: SociocsStandin, volume: str | None = None, **overrides: str
) -> Container:
    """Run the image on the host network against the stand-ins, with the named `volume` (else an
    anonymous one) as /data; returns once /readyz says ready."""
    port = free_port()
    defaults: dict[str, str] = {
        "SOCIOCS_TIMEOUT_SECONDS": "15",
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "LOG_FORMAT": "json",
    }
    env = bot_env(slack, sociocs, PATH=None, HOME=None, LANG=None, PORT=str(port), **{**defaults, **overrides})
    name = f"sociocs-bot-test-{uuid.uuid4().hex[:8]}"
    flags = [flag for key, value in env.items() for flag in ("-e", f"{key}={value}")]
    # --read-only, as in Kubernetes (readOnlyRootFilesystem): only /data (a volume) and tmpfs are writable.
    mounts = ["-v", f"{volume}:/data"] if volume else []
    podman("run", "-d", "--name", name, *RUN_FLAGS, "--read-only", *mounts, *flags, image)
    running = Container(name, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if running.http.get("/readyz", timeout=1).status_code == 200:
                    return running
            except httpx.HTTPError:
                pass
            if running.state() not in ("running", "created", "configured", "initialized"):
                raise AssertionError(f"the container stopped ({running.state()}):\n{running.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the container did not become ready:\n{running.logs()}")
            time.sleep(0.2)
    except BaseException:
        running.remove()
        raise


@pytest.fixture(scope="module")
def container(image: str, slack: SlackStandin, sociocs: SociocsStandin) -> Iterator[Container]:
    running = start_container(image, slack, sociocs)
    yield running
    running.remove()


def test_image_runs_as_a_fixed_non_root_user_with_a_healthcheck_and_no_build_tools(image: str):
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert "/data" in config["Volumes"]
    assert "3000/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["sociocs-bot"]
    health = healthcheck(image)
    assert any("/healthz" in part for part in health.get("Test", [])), health  # type: ignore[attr-defined]
    probe = (
        "id -u; for tool in gcc cc c++ make; do command -v $tool && exit 1; done; "
        "test ! -e /opt/venv/bin/pip && test ! -e /root/.cache/pip && test -w /data && ! touch /opt/venv/x 2>/dev/null"
    )
    result = podman("run", "--rm", *RUN_FLAGS, "--read-only", "--entrypoint", "sh", image, "-c", probe, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [UID]


def test_container_is_healthy_and_not_root(image: str, container: Container):
    assert container.http.get("/healthz").status_code == 200
    assert container.http.get("/readyz").json()["status"] == "ready"
    assert podman("exec", container.name, "id", "-u").stdout.strip() == UID
    # The image's own HEALTHCHECK command, run inside the container.
    check = healthcheck(image)["Test"]
    assert isinstance(check, list)
    assert check[0] in ("CMD", "CMD-SHELL")
    command = check[1:] if check[0] == "CMD" else ["sh", "-c", check[1]]
    assert podman("exec", container.name, *command, check=False).returncode == 0


def test_container_sends_a_signed_command_and_reports_in_the_thread(
    container: Container, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    response = container.command(f"{number} Hello from the container")
    assert response.status_code == 200
    parent, reply = wait_outcome(slack, number)
    bodies = [c.body for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number]
    assert bodies == [
        {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": number, "text": "Hello from the container"}
    ]
    assert reply.args["thread_ts"] == parent.response["ts"]
    assert "Sent to" in reply.args["text"]

    metrics = container.http.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "sociocs_bot_slack_ack_seconds_count" in metrics.text

    logs = container.logs()
    lines = [line for line in logs.splitlines() if line.strip()]
    assert lines, "the bot logged nothing"
    for line in lines:
        record = json.loads(line)  # LOG_FORMAT=json: every line is one JSON object
        assert {"time", "level", "event"} <= record.keys()
    assert number not in logs  # numbers are masked
    for secret in SECRETS:
        assert secret not in logs


def test_sigterm_during_a_slow_send_posts_the_outcome_and_exits_0_within_the_grace_period(
    container: Container, slack: SlackStandin, sociocs: SociocsStandin
):
    number = new_number()
    sociocs.script(number, Reply(delay=SLOW_SEND_SECONDS))
    assert container.command(f"{number} closing time").status_code == 200
    sociocs.wait_for(lambda calls: [c for c in calls if isinstance(c.body, dict) and c.body.get("to") == number])

    started = time.monotonic()
    podman("kill", "--signal", "TERM", container.name)
    exit_code = podman("wait", container.name, timeout=GRACE_SECONDS + 30).stdout.strip()
    took = time.monotonic() - started

    assert exit_code == "0", container.logs()
    assert took < GRACE_SECONDS, f"took {took:.1f}s to stop"
    (reply,) = replies_for(slack.calls, number)
    assert "Sent to" in reply.args["text"]
    assert "received SIGTERM" in container.logs()


def test_a_send_cut_off_by_the_grace_period_is_reported_after_a_restart(
    image: str, slack: SlackStandin, sociocs: SociocsStandin
):
    """The ledger in the /data volume outlives the container: a send still waiting for Sociocs when
    the grace period ends is not lost, the next container on the same volume reports it."""
    volume = f"sociocs-bot-test-data-{uuid.uuid4().hex[:8]}"
    try:
        # The relative default of .env.example lands in the volume too (/app/data is /data).
        first = start_container(
            image,
            slack,
            sociocs,
            volume=volume,
            SHUTDOWN_GRACE_SECONDS="1",
            DATABASE_URL="sqlite:///./data/sociocs-bot.db",
        )
        try:
            number = new_number()
            sociocs.script(number, Reply(delay=8))
            assert first.command(f"{number} too slow to finish").status_code == 200
            sociocs.wait_for(
                lambda calls: [c for c in calls if isinstance(c.body, dict) and c.body.get("to") == number]
            )
            podman("kill", "--signal", "TERM", first.name)
            assert podman("wait", first.name, timeout=30).stdout.strip() == "0", first.logs()
            assert not replies_for(slack.calls, number)
            assert "still in flight" in first.logs()
        finally:
            first.remove()

        second = start_container(image, slack, sociocs, volume=volume)
        try:
            reply = slack.wait_for(lambda calls: replies_for(calls, number), timeout=20)[0]
            assert "restarted while sending" in reply.args["text"], reply.args["text"]
        finally:
            second.remove()
    finally:
        podman("volume", "rm", "--force", volume, check=False)


def test_two_replicas_share_one_postgresql_ledger(
    image: str, slack: SlackStandin, sociocs: SociocsStandin, pg_url: str
):
    """Several replicas: HTTP mode and one PostgreSQL ledger. A send through one replica is in the
    other's `/sms history`, and both started against the same database at once."""
    user = f"U0REPLICA{uuid.uuid4().hex[:6].upper()}"
    replicas: list[Container] = []
    try:
        for _ in range(2):
            replicas.append(start_container(image, slack, sociocs, DATABASE_URL=pg_url))
        first, second = replicas
        number = new_number()
        assert first.command(f"{number} through the first replica", user=user).status_code == 200
        wait_outcome(slack, number)
        history = second.command("history", user=user)
        assert history.status_code == 200
        lines = history.json()["text"].splitlines()
        assert any(number in line and "sent (SM" in line for line in lines), lines
    finally:
        for replica in replicas:
            replica.remove()
