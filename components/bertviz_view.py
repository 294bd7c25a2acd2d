"""bertviz inside the app: a sandboxed <iframe srcdoc> inside gr.HTML.

gr.HTML does not run <script>; an iframe's srcdoc is a whole page that does. The sandbox
lets the page run scripts but gives it no access to the app (no same-origin).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import gradio as gr

if TYPE_CHECKING:
    from playground.hf.bertviz_offline import BertvizPage

PLACEHOLDER = ("<div class='bertviz-placeholder' style='padding:24px;color:#6b7280'>"
               "Choose a view and press <b>Draw bertviz view</b>.</div>")
TITLES = {"head": "bertviz head view", "model": "bertviz model view", "neuron": "bertviz neuron view"}


def bertviz_html(page: BertvizPage) -> str:
    """The page inside a sandboxed iframe: scripts run, but with no access to the app."""
    title = TITLES.get(page.view, "bertviz")
    return (f'<iframe class="bertviz-frame" title="{html.escape(title)}" sandbox="allow-scripts" '
            f'style="width:100%;height:{page.height_px}px;border:1px solid #e5e7eb;border-radius:8px;" '
            f'srcdoc="{html.escape(page.html, quote=True)}"></iframe>')


def bertviz_view(elem_id: str = "bertviz-view") -> gr.HTML:
    """An empty HTML slot for a bertviz page; handlers return bertviz_html(page)."""
    return gr.HTML(PLACEHOLDER, elem_id=elem_id, js_on_load=None)
