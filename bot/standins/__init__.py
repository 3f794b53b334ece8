"""The Slack Web API stand-in on 127.0.0.1: what `sociocs-bot console` runs the real app against.

Only the console's stand-in ships in the package. The Sociocs stand-in, which only the tests and the
benchmarks use, lives outside it in the top-level `standins/` package (not in the wheel or the image).
"""

from bot.standins._server import LocalServer
from bot.standins.slack import SlackCall, SlackStandin, SlackWorkspace

__all__ = ["LocalServer", "SlackCall", "SlackStandin", "SlackWorkspace"]
