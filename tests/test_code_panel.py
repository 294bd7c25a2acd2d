"""The Show-the-code panel's notebook: valid nbformat, the lesson and the code in it, and
it runs top to bottom in a real Jupyter kernel with the same output as the code alone."""

from __future__ import annotations

import subprocess
import sys

import gradio as gr
import nbformat
import pytest

from components.code_panel import code_panel, notebook_text

CODE = "import torch\nx = torch.arange(6.0).view(2, 3)\nprint(x.softmax(dim=-1).sum(dim=-1).tolist())\n"


def test_notebook_holds_the_lesson_the_install_line_and_the_code():
    notebook = nbformat.reads(notebook_text(CODE, "Attention", "**Attention** mixes tokens."), as_version=4)
    nbformat.validate(notebook)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds == ["markdown", "markdown", "code"]
    assert "# Attention" in notebook.cells[0].source and "**Attention** mixes tokens." in notebook.cells[0].source
    assert "pip install" in notebook.cells[1].source
    assert notebook.cells[2].source == CODE


def test_notebook_without_code_is_a_message():
    with pytest.raises(gr.Error, match="run the lab first"):
        notebook_text("  ", "Attention", "")


def test_notebook_runs_in_a_kernel_and_prints_what_the_code_prints(tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.reads(notebook_text(CODE, "Softmax", "Rows sum to one."), as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(out.get("text", "") for out in notebook.cells[2].outputs)
    alone = subprocess.run([sys.executable, "-c", CODE], cwd=tmp_path, capture_output=True, text=True,
                           check=True).stdout
    assert printed == alone == "[1.0, 1.0]\n"


def test_panel_without_a_title_has_no_download_button():
    with gr.Blocks() as demo:
        code_panel("print(1)")
    assert not [b for b in demo.blocks.values() if isinstance(b, gr.Button)]
    with gr.Blocks() as demo:
        code_panel("print(1)", title="Lab", lesson="text")
    assert [b for b in demo.blocks.values() if isinstance(b, gr.Button)]
