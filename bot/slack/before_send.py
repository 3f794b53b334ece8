"""What is checked and filled in just before a send goes out, from Sociocs's contacts (#14).

Blocked numbers are not texted: each recipient's Sociocs contact (cached; `ContactsService` says why
one lookup tells both name and blocked) is checked, and a blocked one is recorded as not sent and told
privately; the others go. If Sociocs cannot say, the message goes: Sociocs itself only holds back bulk
and automated messages from a blocked contact, so a lookup failure must not stop a person's own message.

A send to one number with no name typed gets the name of its Sociocs contact, so the summary shows who
the customer is (several recipients share one draft, hence one name: they are left as typed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from bot.contacts import ContactsService
from bot.domain.phone import mask
from bot.sending import Accepted, SendService
from bot.slack.contact_texts import BLOCKED_REASON, blocked_line
from bot.slack.report import PrivateSink

log = logging.getLogger(__name__)


async def without_blocked(
    accepted: Accepted, contacts: ContactsService, service: SendService, private: PrivateSink
) -> Accepted | None:
    """The accepted send minus its blocked recipients (recorded as failed, told privately); None if none is left."""
    if not contacts.available:
        return accepted
    recipients = accepted.draft.recipients
    verdicts = await asyncio.gather(*(contacts.is_blocked(r.e164) for r in recipients))
    if not any(verdicts):
        return accepted
    kept = [(r, s) for r, s, blocked in zip(recipients, accepted.send_ids, verdicts, strict=True) if not blocked]
    refused = [(r, s) for r, s, blocked in zip(recipients, accepted.send_ids, verdicts, strict=True) if blocked]
    for recipient, send_id in refused:
        log.info("send %s not sent: %s is blocked in Sociocs", send_id, recipient.masked())
        try:
            await service.refuse(send_id, BLOCKED_REASON)
        except Exception:
            log.exception("could not record send %s as refused (blocked)", send_id)
    try:
        await private("\n".join(blocked_line(r.e164) for r, _ in refused))
    except Exception:
        log.warning("could not tell the sender that %s is blocked", ", ".join(mask(r.e164) for r, _ in refused))
    if not kept:
        return None
    draft = replace(accepted.draft, recipients=tuple(r for r, _ in kept))
    return replace(accepted, draft=draft, send_ids=tuple(s for _, s in kept))


async def with_contact_name(accepted: Accepted, contacts: ContactsService) -> Accepted:
    """The send with its lone recipient's contact name, when none was typed and Sociocs knows one."""
    draft = accepted.draft
    if draft.name or len(draft.recipients) != 1 or not contacts.available:
        return accepted
    name = await contacts.contact_name(draft.recipients[0].e164)
    return replace(accepted, draft=replace(draft, name=name)) if name else accepted
