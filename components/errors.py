"""Turn the core's ValueErrors into messages the student sees, for plain and streaming
handlers alike. The core raises ValueError (ModelUnavailable is one) with text written
for a student; anything else is a bug and is logged, with a short message shown."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable

import gradio as gr

log = logging.getLogger("neural_playground")


def _to_gr_error(err: Exception) -> gr.Error:
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, ValueError):
        return gr.Error(str(err))
    log.exception("handler failed")
    return gr.Error(f"Something went wrong ({type(err).__name__}). The app is still running; "
                    "try other settings.")


def user_errors(fn: Callable) -> Callable:
    """Decorate a Gradio handler (function or generator) so failures become gr.Error."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - every failure must reach the student
                raise _to_gr_error(err) from err
        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            raise _to_gr_error(err) from err
    return call
