"""Start here: the learning path from RNNs to GANs, one line a step, each a link to its tab."""

from __future__ import annotations

import gradio as gr

TAB_ID = "overview"
TITLE = "Start here"

# (tab id, title, one line on what the student learns there)
PATH = [
    ("tokenizers", "0 · Tokenizers", "How text becomes the numbers every model below reads."),
    ("recurrent", "1 · RNN & LSTM", "Step a recurrent cell, watch its gates, see gradients vanish."),
    ("seq2seq", "2 · Encoder–decoder", "Translate with a fixed context, then with attention: watch the alignment."),
    ("attention", "3 · Attention", "Self-attention by hand, then inside a real pretrained transformer."),
    ("positional", "4 · Positions", "Why attention needs word order added, and how: sinusoids, learned, RoPE."),
    ("pipelines", "5 · Hugging Face", "Run real pipelines: sentiment, similarity, generation, digits."),
    ("finetune", "6 · Fine-tuning", "Load a dataset, fine-tune a transformer live, save and reuse it."),
    ("gan", "7 · GANs", "Train a generator against a discriminator and watch samples evolve."),
]


def path_html() -> str:
    steps = "".join(f'<a href="?tab={tab}" data-np-tab="{tab}"><b>{title}</b>{line}</a>'
                    for tab, title, line in PATH)
    return f'<div class="path-steps">{steps}</div>'


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        gr.Markdown(
            "Neural Playground lets you touch real models. Follow the path from recurrent "
            "networks to transformers to GANs; every lab explains what you see, gives you "
            "things to try, and shows the few lines of Python that reproduce it."
        )
        gr.HTML(path_html())
        gr.Markdown(
            "**For teachers:** a link can open any lab or part of a lab directly, e.g. "
            "`?tab=attention` or `?tab=attention-model`; "
            "`?presenter=1` (or the switch at the top) turns on large, high-contrast type "
            "for a projector. Everything runs offline on models that ship with the app."
        )
