"""Can the bot post in the inbox channels? Asked of Slack at start and by `sociocs-bot check`, so a
channel the bot cannot use is reported then, not discovered when a customer writes.

conversations.info answers `channel_not_found` for a private channel the bot is not in (as for one that
does not exist); a channel it finds may still be archived. A public channel needs no membership
(chat:write.public).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.domain.providers import PROVIDER_ORDER, Provider


def named_inboxes(settings: Settings) -> dict[str, list[str]]:
    own = {
        Provider.TWLO: settings.inbox_channel_id_twlo,
        Provider.TWLOWA: settings.inbox_channel_id_twlowa,
        Provider.GSWA: settings.inbox_channel_id_gswa,
    }
    return inbox_settings(settings.inbox_channels, own)


def inbox_settings(channels: dict[Provider, str], own: dict[Provider, str | None]) -> dict[str, list[str]]:
    """Each inbox channel and the variables naming it (`INBOX_CHANNEL_ID_TWLO`, or the fallback)."""
    named: dict[str, list[str]] = {}
    for provider in PROVIDER_ORDER:
        channel = channels.get(provider)
        if channel:
            variable = f"INBOX_CHANNEL_ID_{provider.value.upper()}" if own.get(provider) else "INBOX_CHANNEL_ID"
            named.setdefault(channel, [])
            if variable not in named[channel]:
                named[channel].append(variable)
    return named


async def reachability(client: Any, named: dict[str, list[str]]) -> list[tuple[bool, str]]:
    """(ok, line) per inbox channel; never raises for Slack's refusals."""
    lines: list[tuple[bool, str]] = []
    for channel, variables in named.items():
        which = " / ".join(variables)
        try:
            info = (await client.conversations_info(channel=channel)).get("channel") or {}
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            hint = (
                "it does not exist, or it is private and the bot is not in it: invite the bot (/invite @bot)"
                if error == "channel_not_found"
                else "add the scope it names and reinstall the app"
                if error == "missing_scope"
                else "check the id"
            )
            lines.append((False, f"{which} {channel}: cannot be reached ({error}): {hint}"))
            continue
        except Exception as exc:  # network trouble: say so, never the token
            lines.append((False, f"{which} {channel}: could not ask Slack ({type(exc).__name__})"))
            continue
        if info.get("is_archived"):
            lines.append((False, f"{which} {channel}: the channel is archived, so nothing can be posted there"))
        elif info.get("is_private") and not info.get("is_member"):
            lines.append((False, f"{which} {channel}: private and the bot is not in it: invite the bot"))
        else:
            lines.append((True, f"{which} {channel}: #{info.get('name') or channel}, the bot can post there"))
    return lines
