"""The teaching block at the top of every tab: what you see, try this, read more."""

from __future__ import annotations

from typing import Sequence

import gradio as gr


def lesson_markdown(what: str, try_this: Sequence[str], papers: Sequence[tuple[str, str]]) -> str:
    tries = "\n".join(f"- {item}" for item in try_this)
    reads = " · ".join(f"[{title}]({url})" for title, url in papers)
    return f"{what.strip()}\n\n**Try this**\n{tries}\n\n**Read more:** {reads}"


def lesson(what: str, try_this: Sequence[str], papers: Sequence[tuple[str, str]]) -> gr.Markdown:
    """A short plain-language explanation, "try this" prompts and links to the papers."""
    return gr.Markdown(lesson_markdown(what, try_this, papers), elem_classes=["lesson"])
