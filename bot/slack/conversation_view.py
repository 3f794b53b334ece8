"""How a conversation's state, the inbox and the Home tab look in Slack (renderers: no I/O).

A conversation's first message (its head) is the customer's first message with the state under it
(open or closed, who has it, when the customer last wrote and was last answered) and the buttons
**Reply**, **Assign to me** and **Close**; it is redrawn from the ledger on every change. What the head
shows of the customer's message is kept in the ledger (`Conversation.head`) as JSON, so any replica
can redraw it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.domain.providers import Provider
from bot.inbox import AlreadyAssigned, AlreadyClosed, ConversationGone, Inbox, NotYourConversation
from bot.ledger import Conversation, SendRecord
from bot.slack.messages import customer_blocks
from bot.slack.text import shown
from bot.sociocs import UnrepliedMessage
from bot.sociocs.webhooks import IncomingMessage

Block = dict[str, Any]
ASSIGN_ACTION = "assign_conversation"
CLOSE_ACTION = "close_conversation"
HOME_BLOCK_LIMIT = 100  # Slack: "Maximum of 100 blocks" in a modal or Home tab view
INBOX_BLOCK_LIMIT = 50  # a message (the private /sms inbox answer)
Link = Callable[[str, str, str | None], str]  # (channel, ts, thread ts) -> a URL to that message

DeskRefusal = ConversationGone | AlreadyAssigned | AlreadyClosed | NotYourConversation


def desk_refusal_text(error: DeskRefusal) -> str:
    """What the presser of Assign or Close is told when the desk refuses."""
    if isinstance(error, AlreadyAssigned):
        return f"<@{error.assignee}> already has this conversation."
    if isinstance(error, AlreadyClosed):
        by = f" by <@{error.closed_by}>" if error.closed_by else ""
        return f"This conversation was already closed{by}."
    if isinstance(error, NotYourConversation):
        return f"Only <@{error.assignee}>, who has this conversation, or an admin can close it."
    return "I have no record of that conversation."


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    epoch = int(moment.replace(tzinfo=UTC).timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def state_line(c: Conversation) -> str:
    if c.open:
        who = f"<@{c.assignee}> has it" if c.assignee else "unassigned"
        state = f":large_green_circle: *Open* · {who}"
    else:
        state = ":white_check_mark: *Closed*" + (f" by <@{c.closed_by}>" if c.closed_by else "")
    return f"{state} · customer wrote {_when(c.last_customer_at)} · last reply {_when(c.last_reply_at)}"


def head_content(message: IncomingMessage, provider: Provider, *, new_thread: bool, previous: str | None) -> str:
    """What the head keeps of the customer's first message: its blocks without the Reply button, the
    fallback text, and the link to the conversation it continues."""
    text, blocks = customer_blocks(message, provider, new_thread=new_thread)
    actions = [b for b in blocks if b.get("block_id") == "customer_reply"]
    reply = actions[0]["elements"][0] if actions else None
    kept = [b for b in blocks if b.get("block_id") != "customer_reply"]  # an opt-out's Block button stays
    return json.dumps({"text": text, "blocks": kept, "reply": reply, "previous": previous})


def head_message(c: Conversation) -> tuple[str, list[Block]]:
    """The head as it reads now (fallback text and blocks)."""
    kept = json.loads(c.head or "{}")
    blocks: list[Block] = list(kept.get("blocks") or [])[: 50 - 3]  # room for the link, state and buttons
    if kept.get("previous"):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Continues <{kept['previous']}|an earlier conversation>."}],
            }
        )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": state_line(c)}]})
    buttons: list[Block] = [kept["reply"]] if kept.get("reply") else []
    if c.open and not c.assignee:
        buttons.append(_button(ASSIGN_ACTION, "Assign to me", c.id, style="primary"))
    if c.open:
        buttons.append(_button(CLOSE_ACTION, "Close", c.id))
    if buttons:
        blocks.append({"type": "actions", "block_id": "customer_reply", "elements": buttons})
    return str(kept.get("text") or "A conversation"), blocks


def _button(action: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def event_text(event: str, actor: str | None) -> str:
    """The thread's record of who did what."""
    who = f"<@{actor}>" if actor else "Someone"
    return {
        "assigned": f":raising_hand: {who} took this conversation.",
        "closed": f":white_check_mark: {who} closed this conversation.",
        "reopened": ":arrows_counterclockwise: Reopened: the customer wrote again.",
    }.get(event, event)


def _customer(c: Conversation) -> str:
    return f"*{shown(c.name)}* ({c.number})" if c.name else f"*{c.number}*"


def _entry(c: Conversation, link: Link) -> str:
    if c.waiting:
        waiting = f"waiting since {_when(c.waiting_since)}"
    else:  # an opt-out waits for no answer: answering would text someone who asked us to stop
        waiting = ":no_entry_sign: opted out" if c.opted_out else "answered"
    preview = f"\n> {shown(c.last_customer_text[:150])}" if c.last_customer_text else ""
    return (
        f"• <{link(c.channel_id, c.head_ts, c.thread_ts)}|{Provider(c.provider).label}> {_customer(c)} · {waiting}"
        f" · <#{c.channel_id}>{preview}"
    )


def inbox_blocks(inbox: Inbox, link: Link, *, limit: int = INBOX_BLOCK_LIMIT) -> tuple[str, list[Block]]:
    """The inbox: yours, then unassigned (each the longest waiting first), then Sociocs's unreplied
    messages with no thread here. Cut to `limit` blocks, saying how many are not shown."""
    sections: list[tuple[str, list[str]]] = [
        ("Assigned to you", [_entry(c, link) for c in inbox.mine]),
        ("Unassigned", [_entry(c, link) for c in inbox.unassigned]),
        ("Unreplied in Sociocs, with no thread here", [_unreplied(m) for m in inbox.unreplied]),
    ]
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Inbox"}}]
    total = sum(len(lines) for _, lines in sections)
    if total == 0:
        blocks.append(_section(":tada: Nothing waits for an answer."))
    left = 0
    for title, lines in sections:
        if not lines:
            continue
        for i, line in enumerate(lines):
            if len(blocks) >= limit - 2:
                left += len(lines) - i
                break
            if i == 0:
                blocks.append(_section(f"*{title}* ({len(lines)})"))
            blocks.append(_section(line))
    notes = []
    if left:
        notes.append(f"…and {left} more not shown.")
    if inbox.others:
        notes.append(f"{inbox.others} open conversation(s) are assigned to others.")
    if inbox.unreplied_problem:
        notes.append(f"Sociocs's unreplied messages could not be listed: {shown(inbox.unreplied_problem)}")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " ".join(notes)[:2900]}]})
    counts = (len(inbox.mine), len(inbox.unassigned), len(inbox.unreplied))
    text = "Inbox: {} yours, {} unassigned, {} unreplied in Sociocs".format(*counts)
    return text, blocks


def _unreplied(m: UnrepliedMessage) -> str:
    line = f"• {m.number}" + (f" ({shown(m.name)})" if m.name else "")
    if m.provider in {p.value for p in Provider}:
        line += f" on {Provider(str(m.provider)).label}"
    if m.timestamp:
        line += f" · {_when(datetime.fromtimestamp(m.timestamp / 1000, UTC).replace(tzinfo=None))}"
    return line + (f"\n> {shown(m.text[:150])}" if m.text else "")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900], "verbatim": True}}


_STATUS_ICONS = {"sent": ":white_check_mark:", "failed": ":x:", "unknown": ":warning:", "dry_run": ":test_tube:"}


def _to(r: SendRecord) -> str:
    """The recipient as the summaries show it: `Jane Doe (+16175551212)` when the send had a name."""
    return f"{shown(r.name)} ({r.recipient})" if r.name else r.recipient


def home_view(
    inbox: Inbox,
    sends: list[SendRecord],
    link: Link,
    *,
    health: list[tuple[bool, str]] | None = None,
    scheduled: list[Block] | None = None,
) -> dict[str, Any]:
    """The Home tab: the inbox, your recent sends with their status, your scheduled messages (a seam
    for scheduling: blocks it renders), and, for admins, the configuration's health."""
    extra: list[Block] = [{"type": "divider"}, _section("*Your recent messages*")]
    if sends:
        for r in sends[:10]:
            status = r.delivery_status or r.status.value
            icon = _STATUS_ICONS.get(r.status.value, ":hourglass_flowing_sand:")
            where = f" · <{link(r.channel_id, r.summary_ts, None)}|thread>" if r.channel_id and r.summary_ts else ""
            extra.append(
                _section(
                    f"{icon} {_when(r.created_at)} · {_to(r)} · {Provider(r.provider).label} · "
                    f"{status.replace('_', ' ')}{where}"
                )
            )
    else:
        extra.append(_section("You have not sent any messages with this bot yet."))
    if scheduled:
        extra += [{"type": "divider"}, _section("*Your scheduled messages*"), *scheduled]
    if health is not None:
        extra += [{"type": "divider"}, _section("*Configuration* (admins only)")]
        extra += [_section(f"{':white_check_mark:' if ok else ':x:'} {shown(line)}") for ok, line in health]
    _, inbox_part = inbox_blocks(inbox, link, limit=HOME_BLOCK_LIMIT - len(extra))
    return {"type": "home", "blocks": (inbox_part + extra)[:HOME_BLOCK_LIMIT]}
