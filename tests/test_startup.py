"""Start-up stays fast: building the app must not import torch or load any model, and the
first click that needs torch must still work in a fresh process."""

from __future__ import annotations

import subprocess
import sys

from components.lazy import lazy_module


def _run_fresh(probe: str) -> None:
    """Run ``probe`` in a new interpreter, as a fresh `python app.py` would start."""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_building_the_app_imports_no_torch_and_loads_no_model():
    _run_fresh("import sys, app; from playground.service.model_service import get_service; "
               "assert 'torch' not in sys.modules, 'torch imported at start-up'; "
               "assert get_service().loads == 0, 'a model was loaded at start-up'")


def test_building_the_app_makes_no_plotly_figure():
    """Plotly loads its schema on the first Figure (~0.2 s): first values are placeholders."""
    _run_fresh("import plotly.basedatatypes as b; b.BaseFigure.__init__ = None; import app")


def test_the_queue_runs_a_few_events_at_a_time():
    _run_fresh("import app; assert app.demo._queue.default_concurrency_limit == 4")


def test_first_torch_click_in_a_fresh_app_works():
    """Torch is first imported by a lazy core module; torch's import walks sys.modules,
    which must not set off the other tabs' lazy modules half-way."""
    _run_fresh("import app; from components import positional_tab, attention_tab, gan_tab; "
               "positional_tab.on_sinusoidal(64, 32, 10000, '1, 2'); "
               "import playground.transformer.attention, playground.hf.bertviz_offline, playground.gan.model")


def test_lazy_module_runs_the_module_on_first_use():
    sys.modules.pop("json.tool", None)
    module = lazy_module("json.tool")
    assert "json.tool" not in sys.modules  # nothing scanning sys.modules can set it off
    assert callable(module.main) and "json.tool" in sys.modules
