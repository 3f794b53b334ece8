"""The compose form's attachments turned into links before the send is accepted, and downloaded after.

Before Slack gets its answer (cheap checks only): PUBLIC_URL is set, the provider takes media, each
file's declared type and size are acceptable, and each chosen file gets a signed link recorded in the
ledger. After the answer, before the send: the files are downloaded from Slack and checked again on
their real bytes; if one fails, nothing is sent and the person is told why, privately.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.domain.draft import Draft, DraftError, Problem, RawDraft
from bot.domain.media import MediaRefused, attachment_problems
from bot.sending import Accepted
from bot.slack.attachment_blocks import chosen_attachments
from bot.slack.context import Bot
from bot.slack.text import shown

log = logging.getLogger(__name__)

UNRECORDED = "The bot cannot record attachments right now, so nothing was sent: try again shortly."
NO_PUBLIC_URL = (
    "Files uploaded in Slack can be sent only once an admin sets PUBLIC_URL (the bot's public https address, "
    "where Sociocs fetches them): remove the attachments, or use public links."
)


async def with_attachments(
    bot: Bot, raw: RawDraft, values: Mapping[str, Any], offered: Mapping[str, str] | None
) -> tuple[RawDraft, list[str]]:
    """The draft with the chosen files' links added, and their media ids; DraftError if they cannot go."""
    chosen = chosen_attachments(values, offered)
    if not chosen:
        return raw, []
    if bot.media is None or not bot.media.public_url:
        raise DraftError([Problem("attachments", NO_PUBLIC_URL)])
    provider = raw.provider or bot.settings.default_provider
    if provider is not None and not provider.is_sms:
        raise DraftError(
            [
                Problem(
                    "attachments",
                    f"{provider.label} cannot carry files uploaded in Slack: send them by SMS, or remove them.",
                )
            ]
        )
    file_links = 1 if raw.file_url and raw.file_url.strip() else 0
    image_links = len([u for u in raw.image_urls if u.strip()])
    problems = attachment_problems(chosen, file_links=file_links, image_links=image_links)
    if problems:
        raise DraftError([Problem("attachments", p) for p in problems])
    try:
        images, file_url, media_ids = await bot.media.reserve(chosen)
    except Exception:
        log.exception("could not record the attachments' links")
        raise DraftError([Problem("attachments", UNRECORDED)]) from None
    return replace(raw, image_urls=[*raw.image_urls, *images], file_url=file_url or raw.file_url), media_ids


async def schedule_attachments(bot: Bot, draft: Draft, media_ids: list[str]) -> None:
    """A scheduled draft (`Draft.schedule`, when scheduling exists) keeps its links valid for
    MEDIA_URL_TTL_SECONDS after its send time instead of after now."""
    when = getattr(draft, "schedule", None)
    if media_ids and bot.media is not None and isinstance(when, datetime) and when.tzinfo is not None:
        await bot.media.send_at(media_ids, when)


async def fetch_then_deliver(
    bot: Bot, accepted: Accepted, media_ids: list[str], *, channel_id: str, user_id: str, thread_ts: str | None
) -> None:
    """Download the attachments, then send; a file that fails leaves the send unsent, and says so."""
    tell = bot.direct_message(user_id)
    if media_ids and bot.media is not None:
        try:
            await bot.media.fetch_all(media_ids)
        except MediaRefused as exc:
            await bot.service.abandon(accepted, f"not sent: {exc}")
            await tell(f":no_entry: Nothing was sent: {shown(str(exc))}")
            return
        except Exception as exc:  # Slack or the database failing: still nothing sent, and said so
            log.warning("could not re-host the attachments (%s): nothing sent", type(exc).__name__)
            await bot.service.abandon(accepted, "not sent: the bot could not download the attachments from Slack")
            await tell(":no_entry: Nothing was sent: the bot could not download the attachments from Slack. Try again.")
            return
    await bot.deliver(accepted, channel_id=channel_id, private=tell, thread_ts=thread_ts)
