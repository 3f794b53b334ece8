"""The compose form's attachments: a file upload field (`attachments`, Block Kit file_input) and, when
opened from a message with files, those files as checkboxes (`attachment_files`), all ticked, so each
can be removed; and reading which files a submission chose.

Only files the interaction itself names are ever taken: uploads come from the file_input's own value,
and message files only if their ids are among those the shortcut offered (kept in private_metadata).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
)
from slack_sdk.models.blocks.block_elements import FileInputElement

from bot.domain.media import FILETYPES, MAX_ATTACHMENTS, Attachment
from bot.slack.text import shown

OPTION_TEXT_LIMIT = 75  # Slack's cap on an option's text


def _label(attachment: Attachment) -> str:
    size = f" ({attachment.size / 1048576:.1f} MB)" if attachment.size else ""
    name = attachment.name or attachment.file_id
    room = OPTION_TEXT_LIMIT - len(size)
    return (name if len(name) <= room else name[: room - 1] + "…") + size


def attachment_blocks(attachments: Sequence[Attachment], notes: Sequence[str]) -> list[Block]:
    blocks: list[Block] = []
    if attachments:
        options = [Option(value=a.file_id, text=_label(a)) for a in attachments[:MAX_ATTACHMENTS]]
        blocks.append(
            InputBlock(
                block_id="attachment_files",
                label="Attachments from the message",
                optional=True,
                hint="Untick a file to leave it out. They are sent by SMS (MMS) only.",
                element=CheckboxesElement(action_id="attachment_files", options=options, initial_options=options),
            )
        )
    if notes:
        text = "\n".join(f":warning: {shown(n)}" for n in notes)[:3000]
        notes_text = MarkdownTextObject(text=text, verbatim=True)
        blocks.append(ContextBlock(block_id="attachment_notes", elements=[notes_text]))
    blocks.append(
        InputBlock(
            block_id="attachments",
            label="Attachments",
            optional=True,
            hint="Images (JPEG, PNG, GIF) and one PDF, up to 5 MB each, sent by SMS (MMS).",
            element=FileInputElement(action_id="attachments", filetypes=FILETYPES, max_files=MAX_ATTACHMENTS),
        )
    )
    return blocks


def chosen_attachments(values: Mapping[str, Any], offered: Mapping[str, str] | None) -> list[Attachment]:
    """The files a submission sends: the uploads, then the ticked message files that were offered."""
    chosen: list[Attachment] = []
    uploads = ((values.get("attachments") or {}).get("attachments") or {}).get("files") or []
    for file in uploads:
        attachment = Attachment.from_slack(file) if isinstance(file, dict) else None
        if attachment is not None:
            chosen.append(attachment)
    ticked = ((values.get("attachment_files") or {}).get("attachment_files") or {}).get("selected_options") or []
    for option in ticked:
        file_id = str((option or {}).get("value") or "")
        if offered and file_id in offered:
            label = str(((option or {}).get("text") or {}).get("text") or file_id)
            kind = offered[file_id]
            chosen.append(Attachment(file_id, label, "application/pdf" if kind == "file" else None))
    return list({a.file_id: a for a in chosen}.values())


def carry_message_files(old: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` (a rebuilt form) with the message's files still listed as in `old`: a form refreshed as
    someone types must not drop them. Slack keeps what was ticked, the block and action ids being the same."""
    kept = [b for b in old.get("blocks", []) if b.get("block_id") in ("attachment_files", "attachment_notes")]
    if not kept:
        return new
    blocks = [b for b in new.get("blocks", []) if b.get("block_id") not in ("attachment_files", "attachment_notes")]
    at = next((i for i, b in enumerate(blocks) if b.get("block_id") == "attachments"), len(blocks))
    return {**new, "blocks": [*blocks[:at], *kept, *blocks[at:]]}
