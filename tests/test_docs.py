"""Every setting is documented where admins look: the README and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", [f.upper() for f in Settings.model_fields])
def test_every_setting_is_documented(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert f"\n{name}=" in example
    short = "_" + name.rsplit("_", 1)[-1] if name.startswith("SOCIOCS_CHANNEL_KEY_") else name
    assert f"`{name}`" in readme or f"`{short}`" in readme
