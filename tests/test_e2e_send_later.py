"""Send later end to end: a signed `/sms --at` into the running bot, scheduled at Sociocs in the
sender's zone, then cancelled with the thread's Cancel button. The forms, zones, refusals and the
other Cancel cases are tested in process (tests/unit/test_send_later.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from standins import SlackStandin, SociocsStandin
from tests.conftest import RunningBot, new_channel, new_number, wait_outcome


def test_scheduled_over_http_in_the_senders_zone_then_cancelled_in_its_thread(
    bot: RunningBot, slack: SlackStandin, sociocs: SociocsStandin
):
    slack.workspace.users["U0LATER"] = "lee.later"
    slack.workspace.zones["U0LATER"] = "America/New_York"
    number, channel = new_number(), new_channel()
    assert bot.command(f'{number} --at "in 3h" Your table is ready', channel=channel, user="U0LATER").text == ""
    parent, reply = wait_outcome(slack, number)
    (body,) = [c.body for c in sociocs.messages() if isinstance(c.body, dict) and c.body.get("to") == number]
    when = datetime.fromisoformat(body["schedule"])
    expected = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZoneInfo("America/New_York"))
    assert abs(when - expected) < timedelta(minutes=2) and when.utcoffset() == expected.utcoffset()
    assert "Scheduled for <!date^" in json.dumps(parent.args.get("blocks"))
    blocks = reply.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    (button,) = [b["accessory"] for b in blocks if (b.get("accessory") or {}).get("action_id") == "cancel_scheduled"]
    press = {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0LATER", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "container": {"type": "message", "message_ts": reply.response["ts"], "channel_id": channel},
        "channel": {"id": channel},
        "message": {"ts": reply.response["ts"], "text": reply.args["text"], "blocks": blocks},
        "response_url": slack.response_url("later-cancel"),
        "actions": [{"type": "button", "action_id": "cancel_scheduled", "block_id": "x", "value": button["value"]}],
    }
    assert bot.interaction(press).status_code == 200
    said = slack.wait_for(
        lambda calls: [
            c for c in calls if c.method == "chat.postMessage" and "<@U0LATER> cancelled" in str(c.args.get("text"))
        ]
    )
    assert said[0].args["thread_ts"] == parent.response["ts"]
    assert [c.path for c in sociocs.calls if c.method == "DELETE"].count(
        f"/messages/scheduled/{reply.args['text'].split('`')[1]}"
    ) == 1
