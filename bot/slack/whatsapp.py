"""WhatsApp in Slack: the form's template blocks, the help on templates, the summary's template preview,
and the words for a message refused outside the 24-hour window (with its *Send a template* button).

Every catalogue string and every value a person typed is shown escaped (`shown`), never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig

from bot.domain.draft import Draft
from bot.domain.providers import PROVIDER_ORDER, Provider
from bot.domain.templates import MAX_VALUE_LENGTH, VALUE_SEPARATOR, Catalogue, Template, TemplateUse
from bot.domain.window import UNKNOWN_NOTE
from bot.slack.text import shown

TEMPLATE_BLOCK = "template"
VALUE_PREFIX = "template_value_"  # block and action ids of the value inputs: template_value_1, _2, ...
TEMPLATE_ACTION = "send_template"  # the button under a message refused outside the window


# The compose form ----------------------------------------------------------------------------------------


def video_block(video_url: str | None) -> InputBlock:
    return InputBlock(
        block_id="video",
        label="Video",
        optional=True,
        hint="One public http(s) link to a video (SMS only).",
        element=PlainTextInputElement(action_id="video", initial_value=video_url or None, max_length=2048),
    )


def _preview(template: Template, values: Sequence[str]) -> str:
    filled = [v.strip() or f"[{template.label(i)}]" for i, v in enumerate(values)]
    filled += [f"[{template.label(i)}]" for i in range(len(filled), len(template.variables))]
    text = TemplateUse(template, tuple(filled[: len(template.variables)])).filled_text()
    cut = text if len(text) <= 450 else text[:449] + "…"  # escaped, at most 5 times longer: inside the limit
    return f"*{shown(template.name[:64])}* (approved text):\n{shown(cut)}"


def with_template_blocks(
    blocks: list[Block],
    templates: Sequence[Template],
    chosen: str | None,
    values: Sequence[str],
    window: str | None,
) -> list[Block]:
    """The form's blocks with a *Template* select before Message (when the provider has templates); a
    chosen template replaces Message (and its segment count) with one input per variable and a preview."""
    names = [b.block_id for b in blocks]
    at = names.index("text") if "text" in names else len(blocks)
    added: list[Block] = []
    if window:
        added.append(
            ContextBlock(block_id="window", elements=[MarkdownTextObject(text=shown(window)[:2900], verbatim=True)])
        )
    template = next((t for t in templates if t.name == chosen), None)
    if templates:
        options = [Option(value=t.name, label=t.name[:75]) for t in templates[:100]]
        initial = next((o for o in options if template is not None and o.value == template.name), None)
        added.append(
            InputBlock(
                block_id=TEMPLATE_BLOCK,
                label="Template",
                optional=True,
                dispatch_action=True,
                hint="An approved WhatsApp template: needed when the customer has not written in the last 24 hours.",
                element=StaticSelectElement(
                    action_id=TEMPLATE_BLOCK, placeholder="Free text", options=options, initial_option=initial
                ),
            )
        )
    if template is None:
        return blocks[:at] + added + blocks[at:]
    for i in range(len(template.variables)):
        added.append(
            InputBlock(
                block_id=f"{VALUE_PREFIX}{i + 1}",
                label=template.label(i)[:2000],
                dispatch_action=True,
                element=PlainTextInputElement(
                    action_id=f"{VALUE_PREFIX}{i + 1}",
                    initial_value=(values[i] if i < len(values) else "")[:MAX_VALUE_LENGTH] or None,
                    max_length=MAX_VALUE_LENGTH,
                    dispatch_action_config=DispatchActionConfig(trigger_actions_on=["on_character_entered"]),
                ),
            )
        )
    added.append(
        ContextBlock(
            block_id="template_preview",
            elements=[MarkdownTextObject(text=_preview(template, values), verbatim=True)],
        )
    )
    rest = [b for b in blocks[at:] if b.block_id not in ("text", "segments")]
    return blocks[:at] + added + rest


def _selected(values: Mapping[str, Any], block: str) -> dict[str, Any]:
    return dict(((values.get(block) or {}).get(block) or {}).get("selected_option") or {})


def state_template(values: Mapping[str, Any]) -> str | None:
    return _selected(values, TEMPLATE_BLOCK).get("value") or None


def state_template_values(values: Mapping[str, Any]) -> list[str]:
    """The value inputs, in order (template_value_1, _2, ...)."""
    found: list[str] = []
    while (block := f"{VALUE_PREFIX}{len(found) + 1}") in values:
        found.append(str((values[block].get(block) or {}).get("value") or ""))
    return found


# Help ----------------------------------------------------------------------------------------------------


def templates_help(catalogue: Catalogue, configured: Sequence[Provider]) -> str:
    """`/sms help templates`: every template per WhatsApp provider, with its labels in order."""
    lines = [
        "*WhatsApp templates:* `/sms whatsapp +447911123456 --template NAME value 1 | value 2`",
        f"Values in order, separated by `{VALUE_SEPARATOR.strip()}`. WhatsApp takes free text only within 24 h of "
        "the customer's last message; otherwise send an approved template. Images, videos and files go by SMS only.",
    ]
    for provider in PROVIDER_ORDER:
        if provider.is_sms:
            continue
        templates = catalogue.for_provider(provider)
        setup = "" if provider in configured else " (not set up here)"
        if not templates:
            lines.append(f"• {provider.label}{setup}: no templates in the catalogue.")
            continue
        lines.append(f"• {provider.label}{setup}:")
        for t in templates:
            labels = VALUE_SEPARATOR.join(t.all_labels()) or "no values"
            media = "; image header from --image" if t.media else ""
            lines.append(f"    `{shown(t.name)}`: {shown(labels)}{media}")
    if not catalogue.templates:
        lines.append("No templates yet: an admin lists the approved ones in SOCIOCS_TEMPLATES_FILE.")
    return "\n".join(lines)


def templates_line(catalogue: Catalogue) -> str | None:
    """One line for `/sms help`: the templates with their labels, pointing at `/sms help templates`."""
    if not catalogue.templates:
        return None
    names = ", ".join(
        f"`{shown(t.name)}` ({shown(VALUE_SEPARATOR.join(t.all_labels()) or 'no values')})"
        for t in catalogue.templates[:20]
    )
    return (
        f"• `--template NAME v1 | v2` sends an approved WhatsApp template ({names}); "
        "`/sms help templates` lists them per provider."
    )


# The summary ---------------------------------------------------------------------------------------------


def summary_blocks(
    draft: Draft, *, window_known: bool, quote: Callable[[str], list[Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The template preview (name, then its text with the values filled in, quoted by `quote` within
    Slack's section limit) and the context notes."""
    notes: list[str] = []
    blocks: list[dict[str, Any]] = []
    if draft.template is not None:
        use = draft.template
        head = f"Template *{shown(use.template.name)}*:"
        if use.media_url:
            head += f" (header image {shown(use.media_url)})"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": head, "verbatim": True}})
        blocks.extend(quote(use.filled_text()))
    elif not draft.provider.is_sms and not window_known:
        notes.append(UNKNOWN_NOTE + ": if this customer has not written since, send a template.")
    if draft.video_url:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Video: {shown(draft.video_url)}", "verbatim": True},
            }
        )
    return blocks, notes


# Outside the window --------------------------------------------------------------------------------------


def outside_window_words() -> str:
    return (
        "WhatsApp refused it because it was outside the 24-hour window: the customer has not written in the "
        "last 24 hours, so only an approved template can be sent. Press *Send a template*."
    )


def template_button(send_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": TEMPLATE_ACTION,
        "text": {"type": "plain_text", "text": "Send a template"},
        "value": json.dumps({"s": send_id}),
    }
