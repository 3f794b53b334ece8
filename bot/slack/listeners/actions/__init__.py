"""Block actions: Retry, Reply, the choice of customer for a mention, and typing in the compose modal."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.slack.contact_texts import BLOCK_ACTION, CONTACT_CANCEL, CONTACT_CHOICE_PREFIX
from bot.slack.conversation_view import ASSIGN_ACTION, CLOSE_ACTION
from bot.slack.listeners.actions.block_number import block_pressed
from bot.slack.listeners.actions.cancel_scheduled import cancel_pressed
from bot.slack.listeners.actions.compose import compose_changed
from bot.slack.listeners.actions.contact_choice import contact_chosen
from bot.slack.listeners.actions.conversation import conversation_pressed
from bot.slack.listeners.actions.mention_choice import choice_pressed
from bot.slack.listeners.actions.reply import reply_pressed
from bot.slack.listeners.actions.retry import retry_pressed
from bot.slack.listeners.actions.template import template_pressed
from bot.slack.messages import CANCEL_ACTION, CHOOSE_PREFIX, REPLY_ACTION, RETRY_ACTION
from bot.slack.scheduled_text import CANCEL_SCHEDULED_ACTION
from bot.slack.whatsapp import TEMPLATE_ACTION, TEMPLATE_BLOCK, VALUE_PREFIX


def register(app: AsyncApp) -> None:
    app.action(RETRY_ACTION)(retry_pressed)
    app.action(REPLY_ACTION)(reply_pressed)
    app.action(CANCEL_SCHEDULED_ACTION)(cancel_pressed)
    app.action(re.compile(rf"^({re.escape(CHOOSE_PREFIX)}\d+|{CANCEL_ACTION})$"))(choice_pressed)
    # Typing in Message (or changing the provider) updates the SMS segment count below it.
    app.block_action({"action_id": "text", "block_id": "text"})(compose_changed)
    app.block_action({"action_id": "provider", "block_id": "provider"})(compose_changed)
    # WhatsApp: picking a template, or typing its values, redraws the form (inputs and preview).
    app.block_action({"action_id": TEMPLATE_BLOCK, "block_id": TEMPLATE_BLOCK})(compose_changed)
    app.block_action({"action_id": re.compile(rf"^{VALUE_PREFIX}\d+$")})(compose_changed)
    app.action(TEMPLATE_ACTION)(template_pressed)
    app.action(re.compile(rf"^({re.escape(CONTACT_CHOICE_PREFIX)}\d+|{CONTACT_CANCEL})$"))(contact_chosen)
    app.action(BLOCK_ACTION)(block_pressed)
    app.action(ASSIGN_ACTION)(conversation_pressed)
    app.action(CLOSE_ACTION)(conversation_pressed)
