"""A library package whose `__init__` runs on first use of a name it defines, not when a submodule is
imported.

Some packages' `__init__` imports much more than the submodules the bot uses (SQLAlchemy's asyncio
package imports the ORM; uvicorn's imports its command line, click and the process supervisors). A
package registered here, unless something imported it already, lets `import package.submodule` import
just that submodule; the first lookup of any other name on it (`package.Name`, `from package import
Name`) runs the `__init__` then, so every use still works as the library intends, with the same
objects. `preset` names are bound up front from the submodules that define them: the very objects the
`__init__` binds, for a library that imports them from its own package (uvicorn's lifespan does
`from uvicorn import Config`). `dunders` are the double-underscore names the `__init__` defines
(`__version__`, say); any other is a probe (`__wrapped__`), absent as it would be after the init.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_LOCK = threading.RLock()
_RAN: set[str] = set()  # the packages whose __init__ ran (or is running, in this thread)
_DUNDERS: dict[str, frozenset[str]] = {}


class _PackageInitOnUse(types.ModuleType):
    """The package, its `__init__` not run yet: the first name looked up that it lacks runs it."""

    def __getattr__(self, name: str) -> Any:
        if (name.startswith("__") and name not in _DUNDERS.get(self.__name__, ())) or _submodule(self, name):
            # Probes such as __wrapped__ are absent after the init too; a submodule not imported yet is
            # absent until the import system imports it (`from . import exc` asks first).
            raise AttributeError(name)
        with _LOCK:  # another thread asking meanwhile waits for the init to finish
            if self.__name__ not in _RAN:
                _RAN.add(self.__name__)  # the init's own lookups (same thread) must not run it again
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


def defer_init(name: str, preset: dict[str, str] | None = None, dunders: tuple[str, ...] = ("__all__",)) -> None:
    """Register package `name` so that its `__init__` runs on first use (see above); `preset` maps a
    name of the package to the submodule it comes from."""
    with _LOCK:
        if name in sys.modules:
            return
        parent, _, child = name.rpartition(".")
        if parent:
            importlib.import_module(parent)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return  # not a package laid out as expected: its first import runs its __init__ as usual
        package = importlib.util.module_from_spec(spec)
        package.__class__ = _PackageInitOnUse
        _DUNDERS[name] = frozenset(dunders)
        sys.modules[name] = package
        if parent:
            setattr(sys.modules[parent], child, package)  # as the import system would set it
    for attribute, module in (preset or {}).items():
        setattr(package, attribute, getattr(importlib.import_module(module), attribute))
