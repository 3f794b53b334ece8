"""Start-up imports (issue 18): what serving imports before it is ready stays without the modules it
never uses, so a later change does not silently bring their cost back. Each check runs in a fresh
interpreter, since this one has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


# Imported by nothing that serving HTTP needs: the ORM (sqlalchemy.ext.asyncio's __init__ would bring
# it: bot/ledger/_async.py), httpx's command-line tool (rich, pygments: bot.cli), uvicorn's (click and
# its supervisors: bot/_uvicorn.py), TOML (read only for a WhatsApp template catalogue), the PostgreSQL
# dialect (a SQLite ledger), Socket Mode (HTTP mode), and the other commands.
DEFERRED = [
    "sqlalchemy.orm",
    "sqlalchemy.ext.asyncio.session",
    "httpx._main",
    "rich",
    "pygments",
    "uvicorn.main",
    "uvicorn.supervisors",
    "click",
    "multiprocessing",
    "tomllib",
    "sqlalchemy.dialects.postgresql",
    "slack_bolt.adapter.socket_mode",
    "slack_sdk.socket_mode",
    "bot.check",
    "bot.console",
]


def test_serving_imports_none_of_the_deferred_modules() -> None:
    # What `python -m bot` imports before it serves: the command line, then the server and the app.
    found = _run(
        f"""
        import json, sys
        import bot.cli
        bot.cli._without_httpx_cli()
        import bot.serve
        heavy = {DEFERRED!r}
        print(json.dumps({{"imported": [name for name in heavy if sys.modules.get(name) is not None]}}))
        """
    )
    assert found["imported"] == []


def test_the_asyncio_package_is_sqlalchemys_own_when_used() -> None:
    # The package the ledger imports without its __init__ still gives every name of that __init__,
    # its submodules and their classes being the same objects.
    found = _run(
        """
        import json, sys
        import bot.ledger
        import sqlalchemy.ext.asyncio as package
        from sqlalchemy.ext.asyncio import engine
        before = "sqlalchemy.orm" in sys.modules
        from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
        from bot.ledger._async import AsyncEngine as ledgers

        print(json.dumps({
            "orm_before": before,
            "orm_after": "sqlalchemy.orm" in sys.modules,
            "same_engine": AsyncEngine is engine.AsyncEngine is ledgers is package.AsyncEngine,
            "same_create": create_async_engine is engine.create_async_engine,
            "session": AsyncSession.__module__,
            "maker": async_sessionmaker.__module__,
            "plain_module": type(package).__name__,
            "session_submodule": package.session is sys.modules["sqlalchemy.ext.asyncio.session"],
        }))
        """
    )
    assert found == {
        "orm_before": False,
        "orm_after": True,
        "same_engine": True,
        "same_create": True,
        "session": "sqlalchemy.ext.asyncio.session",
        "maker": "sqlalchemy.ext.asyncio.session",
        "plain_module": "module",
        "session_submodule": True,
    }


def test_uvicorn_is_uvicorns_own_when_used() -> None:
    # Serving gets uvicorn's own Server and Config, and lifespan "off" (which imports Config from the
    # package) without the command line; every name of uvicorn's __init__ is still there, the same objects.
    found = _run(
        """
        import json, sys
        import bot.serve
        import uvicorn
        import uvicorn.config, uvicorn.server
        from uvicorn.lifespan.off import LifespanOff
        config = uvicorn.config.Config(lambda scope, receive, send: None, lifespan="off")
        config.load()
        before = "uvicorn.main" in sys.modules
        from uvicorn import Config, Server, main, run
        cli = sys.modules["uvicorn.main"]  # the package's `main` is the command, as uvicorn binds it

        print(json.dumps({
            "main_before": before,
            "lifespan": config.lifespan_class is LifespanOff,
            "bots": [bot.serve.UvicornServer is uvicorn.server.Server,
                     bot.serve.UvicornConfig is uvicorn.config.Config],
            "same": [Config is uvicorn.config.Config, Server is uvicorn.server.Server is cli.Server,
                     main is cli.main is uvicorn.main, run is cli.run],
            "version": isinstance(uvicorn.__version__, str),
            "all": sorted(uvicorn.__all__),
            "plain_module": type(uvicorn).__name__,
        }))
        """
    )
    assert found == {
        "main_before": False,
        "lifespan": True,
        "bots": [True, True],
        "same": [True, True, True, True],
        "version": True,
        "all": ["Config", "Server", "main", "run"],
        "plain_module": "module",
    }


def test_uvicorns_version_alone_runs_its_init() -> None:
    found = _run(
        """
        import json
        import bot._uvicorn
        import uvicorn
        from importlib.metadata import version
        print(json.dumps({"same": uvicorn.__version__ == version("uvicorn"), "probe": hasattr(uvicorn, "__wrapped__")}))
        """
    )
    assert found == {"same": True, "probe": False}


def test_webhook_event_models_are_built_when_the_endpoint_is_made() -> None:
    # Without SOCIOCS_WEBHOOK_SECRET no event ever comes: their validators are not built at start-up. With
    # it, they are built when the route is made (before ready), not on the first event.
    found = _run(
        """
        import json
        from types import SimpleNamespace
        from pydantic import SecretStr
        import bot.serve
        from bot.sociocs import webhooks
        from bot.webhook_endpoint import sociocs_webhook_route

        models = [webhooks.StatusError, webhooks.StatusData, webhooks.StatusUpdate, webhooks.Contact,
                  webhooks.IncomingMessage]
        complete = lambda: [model.__pydantic_complete__ for model in models]
        at_import = complete()
        none = sociocs_webhook_route(SimpleNamespace(settings=SimpleNamespace(sociocs_webhook_secret=None)))
        without = complete()
        route = sociocs_webhook_route(SimpleNamespace(settings=SimpleNamespace(sociocs_webhook_secret=SecretStr("s"))))
        event = webhooks.parse_event({"event": "message", "message_id": "m1", "provider": "twlo",
                                      "channel_key": "ck", "from": "+16175550101", "contact": {"name": "Ann"}})
        print(json.dumps({"at_import": at_import, "none": none is None, "without": without,
                          "with": complete(), "route": route.path, "name": event.sender_name}))
        """
    )
    assert found == {
        "at_import": [False] * 5,
        "none": True,
        "without": [False] * 5,
        "with": [True] * 5,
        "route": "/sociocs/webhook",
        "name": "Ann",
    }


def test_a_name_the_package_lacks_is_still_an_attribute_error() -> None:
    found = _run(
        """
        import json
        import bot.ledger
        import sqlalchemy.ext.asyncio as package
        try:
            package.no_such_name
        except AttributeError as exc:
            first = str(exc)
        try:
            from sqlalchemy.ext.asyncio import no_such_name  # noqa: F401
        except ImportError:
            second = "ImportError"
        print(json.dumps({"first": first, "second": second, "session": hasattr(package, "AsyncSession")}))
        """
    )
    assert found == {
        "first": "module 'sqlalchemy.ext.asyncio' has no attribute 'no_such_name'",
        "second": "ImportError",
        "session": True,
    }


def test_imported_first_the_package_is_left_as_it_is() -> None:
    found = _run(
        """
        import json
        import sqlalchemy.ext.asyncio as package
        import bot.ledger
        import sqlalchemy.ext.asyncio as again
        print(json.dumps({"same": package is again, "plain": type(again).__name__}))
        """
    )
    assert found == {"same": True, "plain": "module"}


def test_start_up_imports_with_garbage_collection_off_and_turns_it_back_on() -> None:
    # bot.cli imports the settings (pydantic), asyncio and the rest inside main(), with the collector off
    # (about 70 collections there otherwise); serving turns it on once started, the other commands at once.
    found = _run(
        """
        import gc, json, os, sys
        os.environ.update({"SLACK_MODE": "http", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                           "SOCIOCS_API_KEY": "k:1", "SOCIOCS_CHANNEL_KEY_TWLO": "ck-twlo"})
        import bot.cli
        imported = [name for name in ("bot.config", "pydantic", "asyncio") if name in sys.modules]
        seen = {}

        def run(command, settings, args=None):
            seen[command] = {"gc": gc.isenabled(), "settings": "bot.config" in sys.modules}
            return 0

        bot.cli._run = run
        codes = [bot.cli.main([]), bot.cli.main(["check"]), bot.cli.main(["console"])]
        after = gc.isenabled()
        gc.disable()
        codes.append(bot.cli.main(["check"]))
        print(json.dumps({"imported": imported, "seen": seen, "codes": codes, "after": after,
                          "after_when_off": gc.isenabled()}))
        """
    )
    assert found == {
        "imported": [],
        "seen": {
            "serve": {"gc": False, "settings": True},
            "check": {"gc": True, "settings": True},
            "console": {"gc": True, "settings": True},
        },
        "codes": [0, 0, 0, 0],
        "after": True,
        "after_when_off": True,
    }
