"""Local stand-ins for the Slack Web API and the Sociocs API, on 127.0.0.1.

The console runs the real app against the Slack stand-in; the tests and benchmarks run it against
both. They enforce what the real services enforce (tokens, `apikey`, required fields, error bodies),
so a request the real service would refuse is refused here too.
"""

from bot.standins._server import LocalServer
from bot.standins.slack import SlackCall, SlackStandin
from bot.standins.sociocs import SociocsCall, SociocsStandin

__all__ = ["LocalServer", "SlackCall", "SlackStandin", "SociocsCall", "SociocsStandin"]
