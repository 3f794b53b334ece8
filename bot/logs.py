"""Logging set-up: plain lines for people or one JSON object per line for machines (`LOG_FORMAT`),
with every configured secret scrubbed from every record in both."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

REDACTED = "[redacted]"
# PostgreSQL repeats a failed row's values in its error ("DETAIL:  Failing row contains (…)", "Key
# (recipient)=(…) already exists"): numbers and message text, whatever the statement's parameters.
_DB_DETAIL = re.compile(r"^(\s*DETAIL:\s*).+$", re.MULTILINE)

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# Extras libraries add for their own formatters, not worth a field.
_IGNORED = frozenset({"color_message"})
# Fields of the JSON line itself, in this order; an extra with one of these names is kept as `extra_<name>`.
_CORE = ("time", "level", "logger", "event")
# The fields of a send (bot.sending passes them as `extra=`), first after the core fields when present.
SEND_FIELDS = ("send_id", "user", "provider", "recipient", "outcome", "latency_ms")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k not in _IGNORED and k[:1] != "_"}


class SecretFilter(logging.Filter):
    """Replaces any configured secret that finds its way into a record (even via a library's debug log):
    in the message and its arguments, the traceback, the stack and every `extra=` field."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        if "DETAIL:" in text:
            text = _DB_DETAIL.sub(rf"\g<1>{REDACTED}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.scrub(message)
        if cleaned != message or record.exc_info:
            if record.exc_info and record.exc_text is None:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.scrub(record.exc_text)
            record.msg, record.args = cleaned, None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for key, value in _extras(record).items():
            if isinstance(value, bool | int | float | type(None)):
                continue
            shown = value if isinstance(value, str) else str(value)
            cleaned = self.scrub(shown)
            if cleaned != shown:
                setattr(record, key, cleaned)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, event (the message), then the
    send fields and any other `extra=` fields, and `exc` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        extras = _extras(record)
        for key in SEND_FIELDS:
            if key in extras:
                line[key] = extras.pop(key)
        for key, value in extras.items():
            line[f"extra_{key}" if key in _CORE else key] = value
        if record.exc_info and record.exc_text is None:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(
    level: int, secrets: Iterable[str], log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Log to `stream` (standard error by default) from the root logger, replacing its handlers."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings too, in the same format (one JSON object per line)
    # httpx logs each request at INFO, and Bolt logs a refused request's whole body (phone numbers and
    # message text) at INFO: keep both for DEBUG only.
    for noisy in ("httpx", "slack_bolt"):
        logging.getLogger(noisy).setLevel(level if level <= logging.DEBUG else logging.WARNING)
    # slack_sdk formats every Web API call's request and response for DEBUG whenever its logger's own
    # level is unset (it tests `logger.level`, not the effective level), then the record is dropped:
    # a measurable share of a send's CPU (bench/run.py --py-spy). Its own level makes the test false.
    for chatty in ("slack_sdk.web.async_base_client", "slack_sdk.web.base_client"):
        logging.getLogger(chatty).setLevel(level)
