"""The "Show the code" panel: the few lines of plain Python that reproduce a run."""

from __future__ import annotations

import gradio as gr

from playground.service.model_service import get_service


def code_panel(code: str = "") -> gr.Code:
    """A collapsed panel holding Python the student can paste into a notebook.

    Handlers return a new string for the returned component after each run, so the code
    always matches exactly what the student just did.
    """
    with gr.Accordion("Show the code", open=False, elem_classes=["code-panel"]):
        return gr.Code(value=code, language="python", interactive=False, show_label=False)


def model_source(model_id: str) -> str:
    """Where a panel loads a model from: the real local folder of a packaged or shipped model
    (a notebook on this machine finds it offline), the hub id otherwise (online only)."""
    try:
        folder = get_service().resolve(model_id).path
    except ValueError:
        folder = None
    return str(folder) if folder else model_id
