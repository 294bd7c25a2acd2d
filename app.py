"""Neural Playground: the Hugging Face Space entry. Assembles the tabs and launches.

Host and port come from Gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.
"""

from __future__ import annotations

import os

# Gradio otherwise calls outside hosts at start; the app must start fast and offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# One torch thread per request: with a classroom on 2 cores, requests run side by side and
# more threads per op only oversubscribe the CPU (small models ran ~5x slower under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Training streams are heavy on 2 cores: a few events at a time, the rest queue. Gradio's own
# variable, read when the Blocks is made; calling demo.queue() instead rebuilds the server app.
os.environ.setdefault("GRADIO_DEFAULT_CONCURRENCY_LIMIT", "4")

import gradio as gr  # noqa: E402

from components import (  # noqa: E402
    attention_tab, finetune_tab, gan_tab, llm_tab, overview_tab, pipelines_tab, positional_tab,
    recurrent_tab, seq2seq_tab, tokenizer_tab,
)
from components.theme import PRESENTER_JS, launch_options  # noqa: E402

TABS = [overview_tab, tokenizer_tab, recurrent_tab, seq2seq_tab, attention_tab,
        positional_tab, llm_tab, pipelines_tab, finetune_tab, gan_tab]
TAB_IDS = [tab.TAB_ID for tab in TABS]


def on_load(request: gr.Request) -> tuple[gr.Tabs, bool]:
    """Open the tab named by ?tab=... and switch presenter mode on with ?presenter=1."""
    params = request.query_params if request else {}
    tab = params.get("tab")
    presenter = params.get("presenter", "0").lower() in ("1", "true", "yes", "on")
    # Without a valid ?tab=, leave the tabs alone: the student may already have clicked one.
    return gr.Tabs(selected=tab) if tab in TAB_IDS else gr.Tabs(), presenter


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Neural Playground") as demo:
        with gr.Row(elem_classes=["np-header"]):
            gr.HTML("<div><h1>🧠 Neural Playground</h1>"
                    "<p>From RNNs to Transformers to GANs: touch real models and see inside.</p></div>")
            presenter = gr.Checkbox(label="Presenter mode", value=False, elem_id="presenter-toggle",
                                    scale=0, min_width=180)
        with gr.Tabs(elem_id="np-tabs") as tabs:
            for tab in TABS:
                tab.build(demo)
        presenter.change(None, presenter, presenter, js=PRESENTER_JS)
        demo.load(on_load, None, [tabs, presenter], api_visibility="private")
    return demo


demo = build_app()

if __name__ == "__main__":
    demo.launch(**launch_options())
