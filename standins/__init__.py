"""Local stand-ins for the tests and the benchmarks: Slack's Web API and the Sociocs API, on 127.0.0.1.

They enforce what the real services enforce (tokens, `apikey`, required fields, error bodies), so a
request the real service would refuse is refused here too.

This package is not part of the bot: `pyproject.toml` packages only `bot*` and `.dockerignore` keeps
it out of the image (tests/test_packaging.py checks both). The Slack stand-in itself stays in
`bot.standins` because `sociocs-bot console` runs on it; it is re-exported here so tests and benchmarks
import every stand-in from one place. Tests find this package through pytest's `pythonpath = ["."]`;
the bench scripts put the repository root on `sys.path`.
"""

from bot.standins import LocalServer, SlackCall, SlackStandin, SlackWorkspace
from standins.reading import posts
from standins.sociocs import Reply, SociocsCall, SociocsStandin, error_body

__all__ = [
    "LocalServer",
    "Reply",
    "SlackCall",
    "SlackStandin",
    "SlackWorkspace",
    "SociocsCall",
    "SociocsStandin",
    "error_body",
    "posts",
]
