"""The Slack layer only renders and posts: the listeners, the conversations sink and the checks before a
send reach the ledger through the services that own it, never directly (import-linter's
`listeners-no-ledger` contract keeps the imports out; this keeps the `bot.ledger` attribute out too)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NO_LEDGER = [
    *sorted((ROOT / "bot/slack/listeners").rglob("*.py")),
    ROOT / "bot/slack/conversations.py",
    ROOT / "bot/slack/before_send.py",
]


def leaks(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "ledger":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .ledger")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.ledger"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
        if isinstance(node, ast.Import) and any(a.name.startswith("bot.ledger") for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} import bot.ledger")
    return found


def test_the_slack_layer_reaches_the_ledger_only_through_the_services() -> None:
    assert [leak for path in NO_LEDGER for leak in leaks(path)] == []


def test_import_linter_forbids_the_listeners_to_import_the_ledger() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    forbidden = [c for c in contracts if c["type"] == "forbidden"]
    assert any(
        "bot.slack.listeners" in c["source_modules"] and "bot.ledger" in c["forbidden_modules"] for c in forbidden
    )
