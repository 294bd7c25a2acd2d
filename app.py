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
# Every event joins a group of components/queues.py with its own limit; this is Gradio's
# limit for each event listener that sets none (it applies per listener, not to the app).
os.environ.setdefault("GRADIO_DEFAULT_CONCURRENCY_LIMIT", "4")

import gradio as gr  # noqa: E402

from components import (  # noqa: E402
    attention_tab, finetune_tab, gan_tab, llm_tab, overview_tab, pipelines_tab, positional_tab,
    recurrent_tab, seq2seq_tab, tokenizer_tab,
)
from components.links import link_note, wire_page_links  # noqa: E402
from components.theme import PRESENTER_JS, blocks_options, launch_options  # noqa: E402

LABS = [tokenizer_tab, recurrent_tab, seq2seq_tab, attention_tab, positional_tab, llm_tab,
        pipelines_tab, finetune_tab, gan_tab]
TABS = [overview_tab, *LABS]
TAB_IDS = [tab.TAB_ID for tab in TABS]


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Neural Playground", **blocks_options()) as demo:
        with gr.Row(elem_classes=["np-header"]):
            gr.HTML("<div><h1>🧠 Neural Playground</h1>"
                    "<p>From RNNs to Transformers to GANs: touch real models and see inside.</p></div>")
            presenter = gr.Checkbox(label="Presenter mode", value=False, elem_id="presenter-toggle",
                                    scale=0, min_width=180)
        note = link_note()
        course = overview_tab.course_bar()  # a class's step and Next step, over every lab
        with gr.Tabs(elem_id="np-tabs") as tabs:
            overview_tab.build(demo, course)
            # A lab's build returns its LabSetup (what a lesson link can set), or None.
            setups = [setup for tab in LABS if (setup := tab.build(demo)) is not None]
        presenter.change(None, presenter, presenter, js=PRESENTER_JS)
        overview_tab.wire_course(course, wire_page_links(demo, tabs, presenter, note, setups))
    return demo


demo = build_app()

if __name__ == "__main__":
    demo.launch(**launch_options())
