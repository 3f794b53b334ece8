"""uvicorn's server and its configuration, without its command line.

`uvicorn`'s `__init__` imports `uvicorn.main`, its command line: click, the reload and multi-process
supervisors and multiprocessing (some 25 modules, about 30 ms of start-up's CPU on the bench machine),
though the bot only runs `Server` with a `Config`. So, unless something imported it already, the
package's `__init__` runs on first use of any other name it defines (bot/_package_init.py), `Config`
bound up front because uvicorn's lifespan imports it from the package. `uvicorn.run`, `uvicorn.main`
and `uvicorn.__version__` still work, importing the command line then; the classes are uvicorn's own.
"""

from __future__ import annotations

from bot._package_init import defer_init

defer_init("uvicorn", preset={"Config": "uvicorn.config"}, dunders=("__all__", "__version__"))

from uvicorn.config import Config  # noqa: E402
from uvicorn.server import Server  # noqa: E402

__all__ = ["Config", "Server"]
