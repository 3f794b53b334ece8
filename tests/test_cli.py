"""The programs an admin runs: configuration errors, `sociocs-bot console` and `sociocs-bot check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from standins import SlackStandin, SociocsStandin
from tests.conftest import API_KEY, BOT_TOKEN, CHANNEL_KEYS, SIGNING_SECRET, bot_env, coverage_env


def run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bare_env(**values: str) -> dict[str, str]:
    path, home = os.environ.get("PATH", ""), os.environ.get("HOME", "/tmp")
    return {**coverage_env(), "PATH": path, "HOME": home, "LANG": "C.UTF-8", **values}


# Configuration errors: one line naming the variable, no traceback ----------------------------------------


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "http"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "socket"}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, "SOCIOCS_CHANNEL_KEY_TWLO"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SOCIOCS_CHANNEL_KEY_TWLO": "k"},
            "SOCIOCS_API_KEY",
        ),
        ({"PORT": "eighty"}, "PORT"),
        ({"SLACK_MODE": "carrier-pigeon"}, "SLACK_MODE"),
        ({"DEFAULT_REGION": "XX"}, "DEFAULT_REGION"),
        ({"MAX_RECIPIENTS": "0"}, "MAX_RECIPIENTS"),
        ({"ALLOWED_NUMBER_TYPES": "mobile, landline"}, "ALLOWED_NUMBER_TYPES"),
        ({"SOCIOCS_TIMEOUT_SECONDS": "soon"}, "SOCIOCS_TIMEOUT_SECONDS"),
        ({"SOCIOCS_DRY_RUN": "perhaps"}, "SOCIOCS_DRY_RUN"),
        ({"SOCIOCS_DEFAULT_PROVIDER": "pigeon"}, "SOCIOCS_DEFAULT_PROVIDER"),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_APP_TOKEN": "xapp-1",
                "SOCIOCS_API_KEY": "u:p",
                "SOCIOCS_CHANNEL_KEY_TWLO": "k",
                "SOCIOCS_DEFAULT_PROVIDER": "gswa",
            },
            "SOCIOCS_DEFAULT_PROVIDER",
        ),
    ],
)
def test_a_bad_setting_stops_with_one_line_naming_it(tmp_path: Path, values: dict[str, str], variable: str):
    result = run([], bare_env(**values), tmp_path, timeout=20)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sociocs-bot: configuration error: ") and variable in lines[0]
    assert "Traceback" not in result.stderr


def test_secret_values_are_not_echoed_in_configuration_errors(tmp_path: Path):
    result = run([], bare_env(SLACK_BOT_TOKEN="xoxp-secret-value-123"), tmp_path, timeout=20)
    assert "secret-value-123" not in result.stderr


def test_dotenv_file_in_the_working_directory_counts(tmp_path: Path):
    (tmp_path / ".env").write_text("PORT=not-a-port\n")
    result = run([], bare_env(), tmp_path, timeout=20)
    assert result.returncode == 2 and "PORT" in result.stderr


# The console ------------------------------------------------------------------------------------------------


def test_console_runs_commands_through_the_app_without_credentials(tmp_path: Path):
    typed = "\n".join(
        [
            "/sms help",
            "/sms +16175551212 Tom & Jerry <3 😀",
            '/sms sms +1 (617) 555-1213, 0016175551214 --name "Jane Doe" --image https://example.com/a.png Hi',
            "/sms +1617555 too short",
            "not a command",
        ]
    )
    result = run(["console"], bare_env(), tmp_path, stdin=typed + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "dry run" in out
    assert "/sms [PROVIDER] RECIPIENTS" in out
    # The summary and the dry-run outcome, text decoded back to what was typed.
    assert "sent SMS (Twilio) to *+16175551212*" in out
    assert "> Tom & Jerry <3 😀" in out
    assert '"text": "Tom & Jerry <3 😀"' in out
    assert '"provider": "twlo"' in out
    assert '"to": "+16175551213"' in out and '"to": "+16175551214"' in out
    assert '"image_url": "https://example.com/a.png"' in out and '"name": "Jane Doe"' in out
    assert "+1617555 is too short to be a phone number" in out
    assert "only /sms commands are understood here" in out


def test_console_refuses_contact_names_in_a_dry_run_saying_why(tmp_path: Path):
    """No Sociocs to search: the name is refused at once, not "unavailable, try again"; nothing is sent."""
    result = run(["console"], bare_env(), tmp_path, stdin='/sms "Jane & Joe", +16175551212 hello\n')
    assert result.returncode == 0, result.stderr
    assert "“Jane &amp; Joe”: contact names are looked up in Sociocs, and this is a dry run" in result.stdout
    assert "Looking up" not in result.stdout and "POST /message" not in result.stdout


def test_console_with_channel_keys_uses_them_and_exits_at_end_of_input(tmp_path: Path):
    env = bare_env(SOCIOCS_CHANNEL_KEY_TWLOWA="wa-key-abcdef123", SOCIOCS_DRY_RUN="true")
    result = run(["console"], env, tmp_path, stdin="/sms +16175551212 hello\n")
    assert result.returncode == 0
    assert '"provider": "twlowa"' in result.stdout and '"channel_key": "…f123"' in result.stdout


def test_console_live_mode_sends_through_sociocs(tmp_path: Path):
    sociocs = SociocsStandin(api_key=API_KEY, channel_keys={k: list(v) for k, v in CHANNEL_KEYS.items()})
    sociocs.start_in_thread()
    try:
        env = bare_env(
            SOCIOCS_API_KEY=API_KEY, SOCIOCS_BASE_URL=sociocs.url, SOCIOCS_CHANNEL_KEY_TWLO=CHANNEL_KEYS["twlo"][0]
        )
        result = run(["console"], env, tmp_path, stdin="/sms +16175551299 live one\n")
    finally:
        sociocs.stop_thread()
    assert result.returncode == 0, result.stderr
    assert [c.body for c in sociocs.messages()] == [
        {"provider": "twlo", "channel_key": CHANNEL_KEYS["twlo"][0], "to": "+16175551299", "text": "live one"}
    ]
    assert "LIVE" in result.stdout and "sociocs> POST /message" in result.stdout
    assert "Sent to +16175551299. Sociocs message id `SM00000001`" in result.stdout
    assert API_KEY not in result.stdout + result.stderr


# sociocs-bot check ------------------------------------------------------------------------------------------


def test_check_passes_with_working_keys(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path):
    result = run(["check"], bot_env(slack, sociocs), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   configuration",
        "ok   ledger",
        "ok   slack auth.test",
        "ok   sociocs GET /channels?provider=twlo",
        "ok   sociocs GET /channels?provider=twlowa",
        "ok   sociocs GET /contacts/search",
        "ok   sociocs GET /team-members",
    ]


def test_check_fails_and_says_which_key(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path):
    env = bot_env(
        slack, sociocs, SLACK_BOT_TOKEN="xoxb-revoked", SOCIOCS_API_KEY="u:wrong", SOCIOCS_CHANNEL_KEY_TWLOWA="nope"
    )
    result = run(["check"], env, tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert "FAIL slack auth.test: Slack refused the bot token: invalid_auth" in out
    assert "FAIL sociocs GET /channels?provider=twlo: HTTP 401: Invalid API key." in out
    assert "revoked" not in out and "u:wrong" not in out


def test_check_flags_a_channel_key_sociocs_does_not_know(slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path):
    result = run(["check"], bot_env(slack, sociocs, SOCIOCS_CHANNEL_KEY_TWLOWA="unknown-key"), tmp_path)
    assert result.returncode == 1
    assert "FAIL sociocs GET /channels?provider=twlowa: SOCIOCS_CHANNEL_KEY_TWLOWA is not among" in result.stdout
    assert "ok   sociocs GET /channels?provider=twlo:" in result.stdout


def test_check_reports_a_bad_configuration(tmp_path: Path):
    result = run(["check"], bare_env(SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_BOT_TOKEN=BOT_TOKEN), tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL configuration: ")
