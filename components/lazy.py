"""Import core modules on first use, so that app start-up does not pay for torch.

``import gradio`` alone takes ~5 s on 2 cores and torch adds ~2 s more; the app must
answer its first request nearly as fast as a bare Gradio app. A tab therefore binds
its core module with ``lazy_module`` and touches it only inside handlers.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed on first attribute access (stdlib LazyLoader)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
