"""SQLAlchemy's asyncio engine, without the ORM that its package imports.

`sqlalchemy.ext.asyncio`'s `__init__` imports `AsyncSession` and with it the whole ORM (some 40
modules, about 90 ms of start-up's CPU on the bench machine), though the ledger only uses the engine
and its connections (`sqlalchemy.ext.asyncio.engine`, which needs nothing of the ORM). So, unless
something imported the package already, it is registered as a package whose `__init__` runs on first
use of any name it defines (bot/_package_init.py): its submodules (`engine`, `base`, `result`, `exc`)
import as usual, and `from sqlalchemy.ext.asyncio import AsyncSession` (or any other name) anywhere
still works, importing the ORM then. The module objects, classes and behaviour are SQLAlchemy's own
throughout.
"""

from __future__ import annotations

from bot._package_init import defer_init

defer_init("sqlalchemy.ext.asyncio")

from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]
