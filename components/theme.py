"""The look of the app: theme, stylesheet and presenter mode (large type, high contrast)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

CSS_PATH = Path(__file__).resolve().parent.parent / "assets" / "style.css"

# Toggling a class on <body> restyles every tab at once; see .presenter rules in style.css.
PRESENTER_JS = "(on) => { document.body.classList.toggle('presenter', !!on); return on; }"


def theme() -> gr.Theme:
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
        font=["Inter", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
        font_mono=["JetBrains Mono", "Menlo", "Consolas", "monospace"],
    )


def launch_options() -> dict:
    """What Gradio 6 takes at launch() rather than in Blocks(): used by app.py and tests."""
    return {"theme": theme(), "css": CSS_PATH.read_text()}
