"""SQLAlchemy's asyncio engine, without the ORM that its package imports.

`sqlalchemy.ext.asyncio`'s `__init__` imports `AsyncSession` and with it the whole ORM (some 40
modules, about 90 ms of start-up's CPU on the bench machine), though the ledger only uses the engine
and its connections (`sqlalchemy.ext.asyncio.engine`, which needs nothing of the ORM). So, unless
something imported the package already, it is registered as a package whose `__init__` runs on first
use of any name it defines: its submodules (`engine`, `base`, `result`, `exc`) import as usual, and
`from sqlalchemy.ext.asyncio import AsyncSession` (or any other name) anywhere still works, importing
the ORM then. The module objects, classes and behaviour are SQLAlchemy's own throughout.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_PACKAGE = "sqlalchemy.ext.asyncio"


class _PackageInitOnUse(types.ModuleType):
    """The package, its `__init__` not run yet: the first name looked up that it lacks runs it."""

    def __getattr__(self, name: str) -> Any:
        if (name.startswith("__") and name != "__all__") or _submodule(self, name):
            # Probes such as __wrapped__ are absent after the init too; a submodule not imported yet is
            # absent until the import system imports it (`from . import exc` asks first).
            raise AttributeError(name)
        with _LOCK:  # another thread asking meanwhile waits for the init to finish
            if not _RAN:
                _RAN.append(True)  # the init's own lookups (same thread) must not run it again
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)
                self.__class__ = types.ModuleType  # type: ignore[assignment]  # from now on a plain module
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def _submodule(package: types.ModuleType, name: str) -> bool:
    return importlib.util.find_spec(f"{package.__name__}.{name}") is not None


_LOCK = threading.RLock()
_RAN: list[bool] = []


def _install() -> None:
    if _PACKAGE in sys.modules:
        return
    import sqlalchemy.ext

    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not a package laid out as expected: let the import below run its __init__
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _PackageInitOnUse
    sys.modules[_PACKAGE] = package
    sqlalchemy.ext.asyncio = package  # as the import system would set it


_install()

from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]
