"""The Slack stand-in's files, as strict as Slack's: `files.info` needs the bot token, and a file's
`url_private_download` gives its bytes only to a request bearing the bot token."""

from __future__ import annotations

import httpx

from standins import SlackStandin
from tests.conftest import BOT_TOKEN

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_files_info_describes_an_uploaded_file_only_to_the_bot(slack: SlackStandin):
    uploaded = slack.add_file("receipt.png", PNG, "image/png")
    answer = httpx.post(f"{slack.api_url}files.info", data={"file": uploaded["id"]}, headers=_bearer(BOT_TOKEN)).json()
    assert answer["ok"] and answer["file"]["id"] == uploaded["id"]
    assert answer["file"]["mimetype"] == "image/png" and answer["file"]["size"] == len(PNG)
    assert answer["file"]["url_private_download"].startswith(slack.url + "/files-pri/")
    unknown = httpx.post(f"{slack.api_url}files.info", data={"file": "F0NOSUCH"}, headers=_bearer(BOT_TOKEN)).json()
    assert unknown == {"ok": False, "error": "file_not_found"}
    anonymous = httpx.post(f"{slack.api_url}files.info", data={"file": uploaded["id"]}).json()
    assert anonymous == {"ok": False, "error": "not_authed"}


def test_a_file_downloads_only_with_the_bot_token_as_bearer(slack: SlackStandin):
    url = slack.add_file("receipt.png", PNG, "image/png")["url_private_download"]
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=_bearer("xoxb-someone-else")).status_code == 401
    assert httpx.get(f"{url}?token={BOT_TOKEN}").status_code == 401  # a token in the URL is not accepted
    ok = httpx.get(url, headers=_bearer(BOT_TOKEN))
    assert ok.status_code == 200 and ok.content == PNG and ok.headers["content-type"] == "image/png"


def test_a_file_can_redirect_elsewhere(slack: SlackStandin):
    url = slack.add_file("x.png", PNG, "image/png", redirect_to="http://elsewhere.invalid/x.png")[
        "url_private_download"
    ]
    answer = httpx.get(url, headers=_bearer(BOT_TOKEN))
    assert answer.status_code == 302 and answer.headers["location"] == "http://elsewhere.invalid/x.png"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
