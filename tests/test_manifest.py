"""manifest.yml must be a manifest Slack accepts: validated against Slack's own JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT.parent / "shared" / "slack-manifest-schema"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.{}.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMAS.is_dir():
        pytest.fail(f"Slack's manifest schema is expected at {SCHEMAS} (the project's shared folder)")
    registry: Registry[Any] = Registry()
    for version in ("1.0.0", "2.0.0"):
        schema = json.loads((SCHEMAS / f"manifest.schema.{version}.json").read_text())
        registry = registry.with_resource(REMOTE.format(version), Resource.from_contents(schema, DRAFT7))
    top = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    return jsonschema.Draft7Validator(top, registry=registry)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slacks_schema(validator: jsonschema.Draft7Validator, manifest: dict[str, Any]):
    errors = [e.message for e in validator.iter_errors(manifest)]
    assert errors == []


def test_the_validator_rejects_a_broken_manifest(validator: jsonschema.Draft7Validator, manifest: dict[str, Any]):
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "sms"  # must start with a slash
    assert list(validator.iter_errors(broken))


def test_manifest_declares_the_contract(manifest: dict[str, Any]):
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/sms" and command["usage_hint"]
    assert command["should_escape"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    shortcuts = {(s["callback_id"], s["type"]) for s in manifest["features"]["shortcuts"]}
    assert shortcuts == {("send_as_sms", "message"), ("compose_sms", "global")}
    # Outcomes a person cannot see in the channel come by direct message from the app.
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public"} <= scopes
    # No more than the app uses.
    assert scopes <= {
        "commands",
        "chat:write",
        "chat:write.public",
        "users:read",
        "channels:read",
        "usergroups:read",
        "app_mentions:read",
        "im:write",
        "files:read",
        "users:read.email",
        "groups:read",  # conversations (issue 17): a private inbox channel's membership, checked at start
    }
