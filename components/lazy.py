"""Import core modules on first use, so that app start-up does not pay for torch.

``import gradio`` alone takes ~5 s on 2 cores and torch adds ~2 s more; the app must
answer its first request nearly as fast as a bare Gradio app. A tab therefore binds
its core module with ``lazy_module`` and touches it only inside handlers.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


class LazyModule(ModuleType):
    """Stands in for a module and imports it on first attribute access.

    Unlike the stdlib LazyLoader it is never put in sys.modules: torch's own import walks
    sys.modules (inspect.getmodule), and a lazy entry there would start importing our
    core half-way through torch's import (a circular import)."""

    def __getattr__(self, attr: str) -> object:
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> ModuleType:
    """The module ``name`` if already imported, else a stand-in that imports it on use."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ImportError(f"no module named {name!r}")
    return LazyModule(name)
