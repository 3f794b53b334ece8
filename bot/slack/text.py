"""Slack's message markup, both ways.

Slack sends text with `&`, `<` and `>` escaped and with links, mentions and phone numbers wrapped in
`<...>`. Before text goes to a customer it is decoded to what the person meant; before user text is
echoed into Slack it is escaped, so it can never form a mention such as `<!channel>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_MARKUP = re.compile(r"<([^<>]*)>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def unescape_entities(text: str) -> str:
    """Undo Slack's three entities; `&amp;` last so `&amp;lt;` stays a literal `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Escape text for Slack so it shows literally and cannot mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# `@here`, `@channel`, `@everyone` typed as words: a zero-width joiner after the `@` keeps them readable
# and stops any Slack client or context that parses bare words from pinging the whole channel.
_PING_WORD = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
ZERO_WIDTH_JOINER = "\u200d"


def defuse(text: str) -> str:
    """Break the bare words `@here`, `@channel` and `@everyone` so they cannot ping anyone."""
    return _PING_WORD.sub("@" + ZERO_WIDTH_JOINER, text)


def shown(text: str) -> str:
    """User or customer text as the bot shows it in Slack: pings defused, then escaped (see `escape`)."""
    return escape(defuse(text))


def references(text: str) -> tuple[set[str], set[str]]:
    """User and channel ids referenced without a label (`<@U123>`, `<#C123>`): the ones needing a lookup."""
    users: set[str] = set()
    channels: set[str] = set()
    for match in _MARKUP.finditer(text):
        inner = match.group(1)
        if "|" in inner:
            continue
        if inner.startswith("@"):
            users.add(inner[1:])
        elif inner.startswith("#"):
            channels.add(inner[1:])
    return users, channels


def _decode_one(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        ident = target[1:]
        return "@" + (label or names.get(ident) or ident).lstrip("@")
    if target.startswith("#"):
        ident = target[1:]
        return "#" + (label or names.get(ident) or ident).lstrip("#")
    if target.startswith("!"):
        command = target[1:]
        if command in _SPECIAL:
            return _SPECIAL[command]
        if command.startswith("subteam^"):
            return label or "@" + command.removeprefix("subteam^")
        return label or "@" + command.split("^", 1)[0]
    if target.startswith(("tel:", "mailto:")):
        # Slack linked what the person typed; the label is that text, the target a normalised form.
        return label or target.split(":", 1)[1]
    # A link: the customer gets the URL itself, never a label that hides where it goes.
    return target


def decode(text: str, names: Mapping[str, str] | None = None) -> str:
    """Turn Slack-formatted text into the plain text the person meant.

    `names` maps user and channel ids to readable names for references that carry no label.
    """
    lookup = names or {}
    out: list[str] = []
    last = 0
    for match in _MARKUP.finditer(text):
        out.append(unescape_entities(text[last : match.start()]))
        out.append(unescape_entities(_decode_one(match.group(1), lookup)))
        last = match.end()
    out.append(unescape_entities(text[last:]))
    return "".join(out)


def unwrap(token: str) -> str:
    """A single token as typed: `<https://x|label>` → `https://x`, `<tel:+1…|+1 …>` → `+1 …`, entities decoded."""
    return decode(token)
