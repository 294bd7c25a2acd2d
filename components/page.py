"""Events of the whole page that a tab may need while it is being built."""

from __future__ import annotations

import gradio as gr
from gradio.context import Context


def page() -> gr.Blocks:
    """The app's Blocks being built, so a tab can fill its first figures on page load
    (``page().load``) instead of computing them at start-up, or clean up on ``unload``."""
    if Context.root_block is None:
        raise RuntimeError("page() is only available while the app's Blocks are being built")
    return Context.root_block
