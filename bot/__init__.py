"""sociocs-slack-bot: send SMS and WhatsApp messages through Sociocs from Slack."""

__version__ = "0.1.0"
