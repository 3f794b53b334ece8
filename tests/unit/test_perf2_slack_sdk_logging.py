"""slack_sdk builds each call's DEBUG text unless its logger's own level says DEBUG is off (issue 18)."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logs import setup_logging

CHATTY = ("slack_sdk.web.async_base_client", "slack_sdk.web.base_client")


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in CHATTY}
    yield
    root.handlers[:], level, levels = saved
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_at_info_slack_sdk_skips_formatting_debug_text() -> None:
    setup_logging(logging.INFO, [], stream=io.StringIO())
    for name in CHATTY:
        # slack_sdk tests `logger.level <= logging.DEBUG` (NOTSET, 0, would pass) before formatting.
        assert not logging.getLogger(name).level <= logging.DEBUG


def test_at_debug_slack_sdk_still_logs_its_calls() -> None:
    out = io.StringIO()
    setup_logging(logging.DEBUG, [], stream=out)
    logger = logging.getLogger(CHATTY[0])
    assert logger.level <= logging.DEBUG
    logger.debug("Sending a request - url: POST https://slack.com/api/chat.postMessage")
    assert "chat.postMessage" in out.getvalue()
