"""Number inputs that answer a wrong-typed API value with a message.

Gradio's ``gr.Number`` and ``gr.Slider`` compare the value with their bounds before any
handler runs, so an API client that sends a list where a number goes gets a TypeError and
Gradio's generic "the upstream app has raised an exception". These subclasses refuse
anything that is not a number first, with a ``gr.Error`` the client reads. Same names,
same Svelte components (Gradio picks the component by the lower-cased class name).
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr


def _number(payload: Any, label: Any) -> Any:
    if payload is None:
        return None
    if isinstance(payload, bool) or not isinstance(payload, (int, float)) or math.isnan(payload):
        raise gr.Error(f"{label or 'This setting'} must be a number, not {type(payload).__name__}.")
    return payload


class Number(gr.Number):
    def preprocess(self, payload: Any) -> Any:
        return super().preprocess(_number(payload, self.label))


class Slider(gr.Slider):
    def preprocess(self, payload: Any) -> Any:
        return super().preprocess(_number(payload, self.label))
