"""The compose modal (`sms_compose`): building it, reading what was typed, and checking Slack's limits.

Views are built with slack_sdk's Block Kit models, whose `to_dict()` enforces many of Slack's limits;
`check_view` adds the ones the models do not (input lengths, metadata size), so a malformed view
fails in tests, not in Slack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DateTimePickerElement,
    ExternalDataMultiSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from bot.domain.draft import MAX_IMAGES, RawDraft
from bot.domain.media import Attachment
from bot.domain.providers import PROVIDER_ORDER, Provider
from bot.domain.templates import Template
from bot.slack.attachment_blocks import attachment_blocks
from bot.slack.messages import segment_note
from bot.slack.text import shown
from bot.slack.whatsapp import state_template, state_template_values, video_block, with_template_blocks

CALLBACK_ID = "sms_compose"
INPUT_LIMIT = 3000  # Slack's cap on a plain_text_input's value and on private_metadata
TITLE_LIMIT = 24
BLOCK_LIMIT = 100
Origin = Literal["command", "message", "global", "reply"]


class ComposeContext(BaseModel):
    """The modal's `private_metadata`: where the outcome goes. Small whatever the message length."""

    model_config = ConfigDict(extra="ignore")

    v: int = 1
    origin: Origin = "command"
    channel: str | None = None  # where to post when there is no destination picker
    thread_ts: str | None = None  # post the summary and outcomes in this thread
    attachments: dict[str, str] | None = None  # Slack file id -> kind, of the files offered from the message

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> ComposeContext:
        return cls.model_validate_json(raw) if raw else cls()

    @property
    def has_destination_picker(self) -> bool:
        return self.origin in ("command", "global")


class Prefill(BaseModel):
    """What the modal starts with."""

    provider: Provider | None = None
    recipients: Sequence[str] = ()
    name: str | None = None
    text: str = ""
    image_urls: Sequence[str] = ()
    file_url: str | None = None
    attachments: Sequence[Attachment] = ()  # the message's files, listed as removable attachments
    attachment_notes: Sequence[str] = ()  # the message's files that cannot be sent, and why
    template: str | None = None  # a template of the chosen provider: its value inputs replace Message
    template_values: Sequence[str] = ()
    video_url: str | None = None
    window: str | None = None  # WhatsApp's 24-hour window for the one recipient, when known
    send_at: int | None = None  # the Send at picker's time (epoch seconds): `--at WHEN`, or as picked
    save_contact: bool = False  # Save as contact ticked: `--save`, or as ticked
    to_chosen: Sequence[tuple[str, str]] = ()  # the To options as chosen (value, label): kept by a refresh


def _text_hint() -> str:
    sms = f"SMS takes up to {Provider.TWLO.max_text_length:,} characters"
    return f"{sms}; WhatsApp up to {INPUT_LIMIT:,} here. Leave empty to send only images or a file."


def _segments_text(provider: Provider | None, text: str) -> str:
    if provider is None or not provider.is_sms:
        return "WhatsApp: no SMS segments to count." if provider else " "
    if not text:
        return "SMS: the segment count appears here as you type."
    note = segment_note(provider, text) or ""
    return note + (" :warning:" if "UCS-2" in note else "")


TO_MIN_QUERY = 2  # Sociocs searches contacts from 2 characters
_CONTACT_SEP = "|"  # an option's value: `+16175551212|Jane Doe` for a contact, the number alone otherwise


def to_option(number: str, name: str | None = None, label: str | None = None) -> Option:
    """One choice of the To field: its value carries the number (and the contact's name, for the send)."""
    value = number + (_CONTACT_SEP + name if name else "")
    text = label or number
    return Option(value=value[:150], label=text if len(text) <= 75 else text[:74] + "…")


def build_compose_view(
    *,
    providers: Sequence[Provider],
    default_provider: Provider | None,
    context: ComposeContext,
    prefill: Prefill | None = None,
    destination: str | None = None,
    max_recipients: int = 10,
    templates: Sequence[Template] = (),
) -> dict[str, Any]:
    """The compose modal as a dict ready for views.open / views.update."""
    fill = prefill or Prefill()
    chosen = fill.provider or default_provider
    options = [Option(value=p.value, label=p.label) for p in PROVIDER_ORDER if p in providers]
    initial = next((o for o in options if o.value == (chosen.value if chosen else None)), None)
    text = fill.text[:INPUT_LIMIT]
    blocks: list[Block] = [
        InputBlock(
            block_id="provider",
            label="Send with",
            dispatch_action=True,
            element=StaticSelectElement(
                action_id="provider", placeholder="Choose a channel", options=options, initial_option=initial
            ),
        ),
        InputBlock(
            block_id="to",
            label="To",
            hint=f"Type a Sociocs contact's name or a phone number with its country code, like +16175551212 "
            f"(up to {max_recipients}).",
            element=ExternalDataMultiSelectElement(
                action_id="to",
                placeholder="Jane Doe or +16175551212",
                min_query_length=TO_MIN_QUERY,
                initial_options=[Option(value=v, label=label) for v, label in fill.to_chosen[:max_recipients]]
                or [to_option(r) for r in fill.recipients[:max_recipients]]
                or None,
                max_selected_items=max_recipients,
            ),
        ),
        InputBlock(
            block_id="name",
            label="Customer name",
            optional=True,
            element=PlainTextInputElement(action_id="name", initial_value=fill.name or None, max_length=100),
        ),
        InputBlock(
            block_id="text",
            label="Message",
            optional=True,
            dispatch_action=True,
            hint=_text_hint(),
            element=PlainTextInputElement(
                action_id="text",
                multiline=True,
                initial_value=text or None,
                max_length=INPUT_LIMIT,
                dispatch_action_config=DispatchActionConfig(trigger_actions_on=["on_character_entered"]),
            ),
        ),
        ContextBlock(
            block_id="segments", elements=[MarkdownTextObject(text=_segments_text(chosen, text), verbatim=True)]
        ),
        InputBlock(
            block_id="images",
            label="Images",
            optional=True,
            hint=f"Public http(s) links, one per line (up to {MAX_IMAGES}).",
            element=PlainTextInputElement(
                action_id="images",
                multiline=True,
                initial_value="\n".join(fill.image_urls) or None,
                max_length=INPUT_LIMIT,
            ),
        ),
        InputBlock(
            block_id="file",
            label="File",
            optional=True,
            hint="One public http(s) link to a document.",
            element=PlainTextInputElement(action_id="file", initial_value=fill.file_url or None, max_length=2048),
        ),
    ]
    blocks.append(video_block(fill.video_url))
    blocks.extend(attachment_blocks(fill.attachments, fill.attachment_notes))
    blocks = with_template_blocks(blocks, templates, fill.template, fill.template_values, fill.window)
    if context.has_destination_picker:
        blocks.append(
            InputBlock(
                block_id="destination",
                label="Post the result in",
                hint="The summary and the outcome thread go here.",
                element=ConversationSelectElement(
                    action_id="destination",
                    initial_conversation=destination,
                    default_to_current_conversation=True if destination is None else None,
                    filter=ConversationFilter(exclude_bot_users=True),
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id="send_at",
            label="Send at",
            optional=True,
            hint="Leave empty to send now. Your own time zone; at most 90 days ahead.",
            element=DateTimePickerElement(action_id="send_at", initial_date_time=fill.send_at),
        )
    )
    save = Option(value="save", label="Save as contact in Sociocs (with the customer name)")
    blocks.append(
        InputBlock(
            block_id="save_contact",
            label="Contact",
            optional=True,
            element=CheckboxesElement(
                action_id="save_contact",
                options=[save],
                initial_options=[save] if fill.save_contact else None,  # Slack wants the very same option
            ),
        )
    )
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        title="Send SMS / WhatsApp",
        submit="Send",
        close="Cancel",
        blocks=blocks,
        private_metadata=context.dump(),
    ).to_dict()
    check_view(view)
    return view


def check_view(view: Mapping[str, Any]) -> None:
    """Raise ValueError for what Slack would refuse that slack_sdk's models do not check."""
    title = view.get("title", {}).get("text", "")
    if len(title) > TITLE_LIMIT:
        raise ValueError(f"title longer than {TITLE_LIMIT} characters")
    blocks = view.get("blocks", [])
    if not 0 < len(blocks) <= BLOCK_LIMIT:
        raise ValueError(f"a view holds 1 to {BLOCK_LIMIT} blocks, not {len(blocks)}")
    if len(view.get("private_metadata", "")) > INPUT_LIMIT:
        raise ValueError(f"private_metadata longer than {INPUT_LIMIT} characters")
    ids = [b.get("block_id") for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate block_id")
    for block in blocks:
        element = block.get("element") or {}
        if element.get("type") == "plain_text_input":
            limit = element.get("max_length", INPUT_LIMIT)
            if limit > INPUT_LIMIT:
                raise ValueError(f"{block.get('block_id')}: max_length over {INPUT_LIMIT}")
            if len(element.get("initial_value", "")) > limit:
                raise ValueError(f"{block.get('block_id')}: initial_value longer than max_length")
        if block.get("type") == "context":
            if not 0 < len(block.get("elements", [])) <= 10:
                raise ValueError("a context block holds 1 to 10 elements")
            for item in block["elements"]:
                if not item.get("text") or len(item["text"]) > INPUT_LIMIT:
                    raise ValueError("context text must be 1 to 3000 characters")


# Reading a submission ------------------------------------------------------------------------------

_SPLIT_RECIPIENTS = re.compile(r"[,\n;]+")


def _value(values: Mapping[str, Any], block: str) -> Any:
    return (values.get(block) or {}).get(block) or {}


def state_text(values: Mapping[str, Any], block: str) -> str:
    return str(_value(values, block).get("value") or "")


def state_provider(values: Mapping[str, Any]) -> Provider | None:
    option = _value(values, "provider").get("selected_option") or {}
    try:
        return Provider(str(option.get("value")))
    except ValueError:
        return None


def state_destination(values: Mapping[str, Any]) -> str | None:
    return _value(values, "destination").get("selected_conversation") or None


def state_send_at(values: Mapping[str, Any]) -> int | None:
    """The Send at picker: a UTC epoch, or None when left empty (send now)."""
    picked = _value(values, "send_at").get("selected_date_time")
    return int(picked) if isinstance(picked, int | float | str) and str(picked).isdigit() else None


def state_recipients(values: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """The To field's choices as (number, contact name or None): the typeahead's selected options, or
    the text of a form opened before the field became a typeahead."""
    selected = _value(values, "to").get("selected_options")
    if selected is None:
        return [(r, None) for r in _SPLIT_RECIPIENTS.split(state_text(values, "to")) if r.strip()]
    chosen: list[tuple[str, str | None]] = []
    for option in selected:
        number, _, name = str((option or {}).get("value") or "").partition(_CONTACT_SEP)
        if number.strip():
            chosen.append((number, name or None))
    return chosen


def state_to_chosen(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The To typeahead's selected options as (value, label), to show them again exactly as chosen."""
    chosen = []
    for option in _value(values, "to").get("selected_options") or []:
        value = str((option or {}).get("value") or "")
        if value:
            chosen.append((value, str(((option or {}).get("text") or {}).get("text") or value)))
    return chosen


def state_save_contact(values: Mapping[str, Any]) -> bool:
    return bool(_value(values, "save_contact").get("selected_options"))


def raw_draft_from_state(values: Mapping[str, Any]) -> RawDraft:
    """The form's values as a RawDraft. Modal inputs are plain text: no Slack markup to decode.

    With no name typed and exactly one contact chosen, the contact's name goes with the message."""
    to = state_recipients(values)
    contact_names = [name for _, name in to if name]
    typed_name = state_text(values, "name") or None
    return RawDraft(
        recipients=[number for number, _ in to],
        text=state_text(values, "text"),
        provider=state_provider(values),
        name=typed_name or (contact_names[0] if len(to) == 1 and contact_names else None),
        image_urls=[u for u in re.split(r"\s+", state_text(values, "images")) if u],
        file_url=state_text(values, "file") or None,
        template=state_template(values),
        template_values=state_template_values(values),
        video_url=state_text(values, "video") or None,
        save_contact=state_save_contact(values),
    )


def refusal_view(messages: Sequence[str]) -> dict[str, Any]:
    """A small modal saying why the form cannot be used (shortcuts have no private reply channel)."""
    from slack_sdk.models.blocks import SectionBlock

    text = "\n".join(f"• {shown(m)}" for m in messages)[:INPUT_LIMIT]
    view = View(
        type="modal",
        title="Send SMS / WhatsApp",
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=f":no_entry: {text}", verbatim=True))],
    ).to_dict()
    check_view(view)
    return view
