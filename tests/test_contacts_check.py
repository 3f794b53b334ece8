"""`sociocs-bot check` reports the contacts search and the team members, with how many Slack users map."""

from __future__ import annotations

from pathlib import Path

from standins import SlackStandin, SociocsStandin
from standins.sociocs import Reply, error_body
from tests.conftest import bot_env
from tests.test_cli import run


def test_check_counts_team_members_and_mapped_slack_users(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
) -> None:
    slack.workspace.users["U0CHECKMAIL"] = "cara.check"
    slack.workspace.emails["U0CHECKMAIL"] = "CARA.check@example.com"
    sociocs.add_team_member(id="tm-cara", email="cara.check@example.com")
    members = len(sociocs.contacts_data.team_members)
    known = {str(m.get("email")).lower() for m in sociocs.contacts_data.team_members}
    readable = {u: e for u, e in slack.workspace.emails.items() if u in slack.workspace.users}
    by_email = sum(1 for u, e in readable.items() if u != "U0SENDER" and e.lower() in known)
    result = run(["check"], bot_env(slack, sociocs, SOCIOCS_USER_MAP="U0SENDER:tm-1"), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   sociocs GET /contacts/search: reachable" in result.stdout
    assert by_email >= 1
    assert (
        f"ok   sociocs GET /team-members: {members} team member(s); {1 + by_email} Slack user(s) map to one "
        f"(1 by SOCIOCS_USER_MAP, {by_email} by e-mail of {len(readable)} with a readable e-mail)"
    ) in result.stdout
    assert "cara" not in result.stdout.lower()


def test_check_fails_when_the_contacts_search_fails(
    slack: SlackStandin, sociocs: SociocsStandin, tmp_path: Path
) -> None:
    sociocs.script_search(Reply(status=500, body=error_body("Contacts are down.")))
    result = run(["check"], bot_env(slack, sociocs), tmp_path)
    assert result.returncode == 1
    assert "FAIL sociocs GET /contacts/search: HTTP 500: Contacts are down." in result.stdout
