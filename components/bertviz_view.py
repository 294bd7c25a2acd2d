"""bertviz inside the app: a sandboxed <iframe srcdoc> inside gr.HTML.

gr.HTML does not run <script>; an iframe's srcdoc is a whole page that does. The sandbox
lets the page run scripts but gives it no access to the app (no same-origin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from components.lazy import lazy_module

if TYPE_CHECKING:
    from playground.hf.bertviz_offline import BertvizPage

bv = lazy_module("playground.hf.bertviz_offline")  # torch loads on the first drawing

PLACEHOLDER = ("<div class='bertviz-placeholder' style='padding:24px;color:#6b7280'>"
               "Choose a view and press <b>Draw bertviz view</b>.</div>")
TITLES = {"head": "bertviz head view", "model": "bertviz model view", "neuron": "bertviz neuron view"}


def bertviz_html(page: BertvizPage) -> str:
    """The iframe markup for a built page."""
    return bv.iframe(page, TITLES.get(page.view, "bertviz"))


def bertviz_view(elem_id: str = "bertviz-view") -> gr.HTML:
    """An empty HTML slot for a bertviz page; handlers return bertviz_html(page)."""
    return gr.HTML(PLACEHOLDER, elem_id=elem_id, js_on_load=None)
