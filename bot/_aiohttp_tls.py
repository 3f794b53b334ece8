"""aiohttp's default TLS contexts, their CA certificates read at their first handshake, not at import.

`aiohttp.connector` builds two SSL contexts when it is imported, each reading the system's CA bundle
(about 45 ms of CPU each on the bench machine, 90 ms of start-up): the verified one, which every
https request made without a context of its own uses (the Slack clients: `auth.test` at start-up,
then every call), and an unverified one, used only for `ssl=False`, which the bot never asks for.

So, unless aiohttp was imported already, `aiohttp.connector` is executed with `SSLContext.__new__`
making `_CAsOnFirstUse` contexts: the same class for every check (a subclass of `ssl.SSLContext`),
the same options, protocol and verification, whose `set_default_verify_paths()` (what
`create_default_context()` calls to trust the system's CAs) takes effect just before the context's
first `wrap_bio`/`wrap_socket` (every handshake goes through one of them) or the first look at its
store. The verified context still reads the CAs before the start-up's `auth.test` over https, so the
first command does not pay for it; the unverified one never reads them unless used. Only contexts made
while that one module executes are of this kind; `ssl.SSLContext` is itself again right after.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from importlib.machinery import ModuleSpec

_MODULE = "aiohttp.connector"
_LOCK = threading.Lock()


def _lazy_class() -> type[ssl.SSLContext]:
    import ssl

    class _CAsOnFirstUse(ssl.SSLContext):
        """An SSLContext whose default CA paths are loaded before its first use, once, not when asked."""

        _paths_pending = False

        def set_default_verify_paths(self) -> None:
            self._paths_pending = True

        def _load_pending(self) -> None:
            if self._paths_pending:
                with _LOCK:  # a context is shared: one loads, the others wait for the loaded store
                    if self._paths_pending:
                        super().set_default_verify_paths()
                        self._paths_pending = False

        def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
            self._load_pending()
            return super().wrap_socket(*args, **kwargs)

        def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
            self._load_pending()
            return super().wrap_bio(*args, **kwargs)

        def cert_store_stats(self) -> dict[str, int]:
            self._load_pending()
            return super().cert_store_stats()

        def get_ca_certs(self, binary_form: bool = False) -> Any:
            self._load_pending()
            return super().get_ca_certs(binary_form)

    return _CAsOnFirstUse


class _Finder:
    """Finds `aiohttp.connector` as the other finders do, and has it executed as described above."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)  # once: a later import (after a reload, say) is aiohttp's own
        spec: ModuleSpec | None = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not a loader as expected: aiohttp's module as it is
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_with_lazy_contexts(module: ModuleType) -> None:
            import ssl

            lazy = _lazy_class()
            new = ssl.SSLContext.__dict__["__new__"]

            def make(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
                made: ssl.SSLContext = new.__func__(lazy if cls is ssl.SSLContext else cls, *args, **kwargs)
                return made

            ssl.SSLContext.__new__ = staticmethod(make)  # type: ignore[assignment,method-assign]
            try:
                exec_module(module)
            finally:
                ssl.SSLContext.__new__ = new  # type: ignore[method-assign]
                del loader.exec_module  # the loader as it was: a reload runs aiohttp's module as it is

        loader.exec_module = exec_with_lazy_contexts  # type: ignore[method-assign]  # this spec's loader only
        return spec


def install() -> None:
    """From now on, the first import of aiohttp builds its default contexts without reading any CA."""
    if _MODULE in sys.modules or any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
