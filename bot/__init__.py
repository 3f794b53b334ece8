"""sociocs-slack-bot: send SMS and WhatsApp messages through Sociocs from Slack."""

from bot import _aiohttp_tls

__version__ = "0.1.0"

_aiohttp_tls.install()  # before anything imports aiohttp: its default TLS contexts read no CA at import
