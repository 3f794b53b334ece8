"""The manifest declares what the contacts features need: users:read.email, and in HTTP mode the options
load URL Slack posts the To typeahead's requests to (Socket Mode needs none)."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from tests.test_manifest import ROOT, manifest, validator  # noqa: F401  (fixtures)


def test_scopes_for_contacts(manifest: dict[str, Any]) -> None:  # noqa: F811
    assert "users:read.email" in manifest["oauth_config"]["scopes"]["bot"]
    assert "users:read" in manifest["oauth_config"]["scopes"]["bot"]


def test_http_mode_as_the_comments_say_declares_the_options_url(validator: jsonschema.Draft7Validator) -> None:  # noqa: F811
    text = (ROOT / "manifest.yml").read_text()
    http = text.replace("socket_mode_enabled: true", "socket_mode_enabled: false")
    for key in ("url:", "request_url:", "message_menu_options_url:"):
        http = http.replace(f"# {key} https://HOST", f"{key} https://bot.example.com")
    as_http = yaml.safe_load(http)
    assert [e.message for e in validator.iter_errors(as_http)] == []
    interactivity = as_http["settings"]["interactivity"]
    assert (
        interactivity["message_menu_options_url"]
        == interactivity["request_url"]
        == "https://bot.example.com/slack/events"
    )
