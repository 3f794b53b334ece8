"""Nothing acknowledged is lost, over real HTTP: `/sms "Jane Doe" hi` is answered ("Looking up …") and the
process is killed while Sociocs is still searching; the next process tells the author privately that
nothing was sent to Jane Doe, and sends nothing."""

from __future__ import annotations

import signal
import time

from standins import SlackStandin, SociocsStandin
from standins.sociocs import Reply
from tests.conftest import new_channel, new_number
from tests.test_e2e_contacts import unique_name


def test_a_name_acknowledged_then_killed_mid_lookup_is_told_to_its_author(
    make_bot, slack: SlackStandin, sociocs: SociocsStandin, tmp_path
) -> None:
    url = f"sqlite:///{tmp_path}/names-kill.db"
    settings = {"DATABASE_URL": url, "LEDGER_RECOVERY_SECONDS": "600"}
    bot = make_bot(**settings)
    name, user, channel = unique_name("Jane"), "U0NAMESKILL", new_channel()
    contact = new_number()
    sociocs.add_contact(contact, name)
    sociocs.script_search(Reply(delay=5))  # the lookup is under way when the process dies
    answer = bot.command(f'"{name}" Your table is ready', user=user, channel=channel)
    assert answer.status_code == 200 and "Looking up" in answer.json()["text"]
    try:
        deadline = time.monotonic() + 10
        while sociocs.contacts_data.search_replies and time.monotonic() < deadline:
            time.sleep(0.02)  # the search has reached Sociocs (and is waiting there): kill mid-lookup
        assert not sociocs.contacts_data.search_replies
    finally:
        sociocs.contacts_data.search_replies.clear()  # never leave a slow search to the worker's next test
    bot.stop(signal.SIGKILL)

    make_bot(**settings)  # SQLite's lock proves the first is gone: told at once, not after 600 s
    (told,) = slack.wait_for(
        lambda calls: [c for c in calls if c.method == "chat.postMessage" and c.args.get("channel") == user],
        timeout=30,
    )
    text = str(told.args["text"])
    assert name in text and "not sent" in text and "restarted" in text
    assert not [c for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == contact]
