"""Only what runs ships: the wheel and the image hold the bot, not the stand-ins the tests and benchmarks use.

The console's Slack stand-in (`bot.standins`) ships; the Sociocs stand-in lives in the top-level
`standins/` package, which setuptools' package discovery and `.dockerignore` leave out.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import site
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parent.parent
DIST = "sociocs-slack-bot"


def shipped_packages() -> list[str]:
    """The packages `[tool.setuptools.packages.find]` in pyproject.toml puts in the wheel."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    finder = find_namespace_packages if find.get("namespaces", True) else find_packages  # pyproject: True
    found = finder(where=str(ROOT / find.get("where", ["."])[0]), include=find.get("include", ["*"]))
    return [p for p in found if "__pycache__" not in p and p not in find.get("exclude", [])]


def test_the_wheel_holds_the_bot_with_the_consoles_slack_stand_in_and_no_sociocs_stand_in() -> None:
    packages = shipped_packages()
    assert "bot" in packages and "bot.standins" in packages, packages
    assert all(p == "bot" or p.startswith("bot.") for p in packages), packages
    modules = [f for p in packages for f in (ROOT / p.replace(".", "/")).glob("*.py")]
    assert [f for f in modules if "class SociocsStandin" in f.read_text()] == []
    assert (ROOT / "standins" / "sociocs.py").exists()  # where it went: importable by tests, not shipped


def test_the_installed_distribution_has_no_stand_in_outside_bot() -> None:
    # The installed one, from its RECORD: with the repository root on sys.path, a local egg-info
    # (sdist sources, tests included) would otherwise answer first.
    (dist,) = importlib.metadata.distributions(name=DIST, path=site.getsitepackages())
    files = dist.files or []
    names = [str(f) for f in files]
    assert not [n for n in names if n.startswith(("standins/", "tests/", "bench/")) or "sociocs.py" in n]
    # An editable install (`pip install -e .`, as CI does) lists a finder instead of the modules; its
    # mapping is setuptools' own package discovery at install time.
    top_level = {n.split("/")[0] for n in names if n.endswith(".py") and "/" in n and ".dist-info" not in n}
    for finder in (f for f in files if f.name.startswith("__editable__") and f.name.endswith("_finder.py")):
        found = re.search(r"^MAPPING(?:: [^=]+)? = (\{.*?\})$", Path(str(finder.locate())).read_text(), re.M)
        assert found, "setuptools changed its editable finder; read its mapping another way"
        top_level |= set(ast.literal_eval(found.group(1)))
    assert top_level == {"bot"}


def test_the_image_gets_only_the_bot() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, re.M)
    assert sorted(src for line in copied for src in line.split()) == ["README.md", "bot", "pyproject.toml"]
    rules = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    assert "*" in rules and "!standins/" not in rules and "!bench/" not in rules and "!tests/" not in rules
