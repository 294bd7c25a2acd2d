"""GANs tab (issue 9): placeholder until the lab lands; replace this module whole."""

from __future__ import annotations

import gradio as gr

TAB_ID = "gan"
TITLE = "GANs"


def build() -> None:
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        gr.Markdown("This lab is being built.")
