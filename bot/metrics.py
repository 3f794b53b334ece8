"""Prometheus metrics, served on `GET /metrics` by the bot's HTTP listener in both modes.

Everything lives in one `Metrics` object with its own `CollectorRegistry` (never the process-wide
default), so a test can build a fresh one and one process never mixes in another library's metrics.
The module-level functions act on `METRICS`, the bot's own instance:

    record_send("twlo", "sent", 0.42)      # one per recipient, after Sociocs answered (or did not)
    observe_sociocs_request("twlo", 0.42)   # or per attempt, then record_send(..., None)
    with sends_in_flight():                 # around each send to Sociocs
        ...
    observe_slack_ack(0.012)                # done by bot.web and bot.serve around Slack's request
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Sociocs answers in tens to hundreds of milliseconds; the timeout is up to minutes.
SOCIOCS_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)
# Slack gives an app 3 seconds to acknowledge; everything past 3 is a failure Slack shows the person.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The bot's instruments, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sends = Counter(
            "sociocs_bot_sends",
            "Messages handed to Sociocs (or dry-run), one per recipient, by provider and outcome.",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.sociocs_seconds = Histogram(
            "sociocs_bot_sociocs_request_seconds",
            "Time from sending a message request to Sociocs to its answer (or timeout), by provider.",
            ["provider"],
            buckets=SOCIOCS_BUCKETS,
            registry=self.registry,
        )
        self.slack_ack_seconds = Histogram(
            "sociocs_bot_slack_ack_seconds",
            "Time from receiving a Slack request (HTTP or Socket Mode) to acknowledging it.",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "sociocs_bot_sends_in_flight",
            "Sends to Sociocs started and not yet answered.",
            registry=self.registry,
        )

    def record_send(self, provider: str, outcome: str, sociocs_seconds: float | None) -> None:
        """Count one recipient's outcome; `sociocs_seconds` None when Sociocs was not called (dry run),
        or when each request was already timed with `observe_sociocs_request` (sends retried on their own)."""
        self.sends.labels(provider=provider, outcome=outcome).inc()
        if sociocs_seconds is not None:
            self.observe_sociocs_request(provider, sociocs_seconds)

    def observe_sociocs_request(self, provider: str, seconds: float) -> None:
        """Time one request to Sociocs (one attempt of a send)."""
        self.sociocs_seconds.labels(provider=provider).observe(seconds)

    @contextmanager
    def sends_in_flight(self) -> Iterator[None]:
        """Counts the enclosed send as in flight until it ends, however it ends."""
        self.in_flight.inc()
        try:
            yield
        finally:
            self.in_flight.dec()

    def observe_slack_ack(self, seconds: float) -> None:
        self.slack_ack_seconds.observe(seconds)

    @contextmanager
    def timing_slack_ack(self) -> Iterator[None]:
        """Observes the enclosed block's duration as one Slack acknowledgement."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe_slack_ack(time.perf_counter() - started)

    def render(self) -> bytes:
        """The Prometheus text exposition of every instrument."""
        return generate_latest(self.registry)


METRICS = Metrics()


def record_send(provider: str, outcome: str, sociocs_seconds: float | None) -> None:
    METRICS.record_send(provider, outcome, sociocs_seconds)


def observe_sociocs_request(provider: str, seconds: float) -> None:
    METRICS.observe_sociocs_request(provider, seconds)


def sends_in_flight() -> AbstractContextManager[None]:
    return METRICS.sends_in_flight()


def observe_slack_ack(seconds: float) -> None:
    METRICS.observe_slack_ack(seconds)
