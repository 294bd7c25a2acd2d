"""Image inputs from the browser, decoded safely: sketches and uploads.

A PNG of 190 KB can hold 13,000 × 13,000 pixels of one colour; decoded, that is about
2 GB of memory. So every image input of the app reads the picture's size from the file
header (``PIL.Image.open`` reads only the header; the pixels are decoded by ``load()``)
and refuses a picture over ``MAX_PIXELS`` before any pixel is decoded:

- ``Sketchpad`` is ``gr.Sketchpad`` with that check in the one method where Gradio turns
  each uploaded layer, background and composite into an image (it decodes them before any
  handler runs, so a check in the handler would come too late);
- ``open_upload`` opens a file that ``gr.File(type="filepath")`` saved.

The core (``playground/``) only ever receives a decoded PIL image or numpy array.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 2048 * 2048  # 4.2 megapixels: a photo fits, a decompression bomb does not
NOT_AN_IMAGE = "That file is not an image this app can read. Please upload a PNG, JPEG or WebP picture."


def check_size(width: int, height: int) -> None:
    """Refuse a picture of more than MAX_PIXELS pixels, with its size in the message."""
    if width * height > MAX_PIXELS:
        raise ValueError(f"The image is {width:,} × {height:,} pixels ({width * height / 1e6:.1f} "
                         f"megapixels); the limit is {MAX_PIXELS / 1e6:.1f} megapixels. "
                         "Please use a smaller image.")


def _open_header(source: str | Path | bytes) -> Image.Image:
    """The image with only its header read (no pixels decoded yet), or a ValueError."""
    try:
        return Image.open(BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ValueError(NOT_AN_IMAGE) from None


def open_upload(path: object) -> Image.Image:
    """A decoded PIL image from an uploaded file, its size checked before decoding."""
    if path is None:
        raise ValueError("Please draw a digit or upload an image.")
    if not isinstance(path, (str, Path)):
        raise ValueError(f"An upload must be a file, not {type(path).__name__}.")
    picture = _open_header(path)
    check_size(*picture.size)
    try:
        picture.load()  # decode now, so a damaged file fails here with a message
    except OSError:
        raise ValueError("That image file is damaged or cut off. Please upload another one.") from None
    return picture


def sketch_array(value: object) -> np.ndarray | None:
    """The drawing of a ``Sketchpad`` value (its "composite", an array) or None if empty.

    Wrong-typed values (from an API client) get a message, not a TypeError."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("A sketch must be a dictionary with a 'composite' image.")
    composite = value.get("composite")
    if composite is None:
        return None
    if not isinstance(composite, np.ndarray):
        raise ValueError("The sketch's 'composite' must be an image.")
    check_size(composite.shape[1] if composite.ndim > 1 else 1, composite.shape[0])
    return composite


class Sketchpad(gr.Sketchpad):
    """``gr.Sketchpad`` that checks each image's size from its header before Gradio decodes it.

    ``convert_and_format_image`` is where ImageEditor opens every layer, background and
    composite (uploaded files or the canvas' blobs); the check runs for every event that
    takes this component as input, public or private."""

    def convert_and_format_image(self, file: Any, flatten_on_white: bool = False) -> Any:
        if file is not None:
            source = file if isinstance(file, (bytes, bytearray)) else getattr(file, "path", None)
            try:
                if source is None:
                    raise ValueError(NOT_AN_IMAGE)
                check_size(*_open_header(source).size)
            except ValueError as err:
                raise gr.Error(str(err)) from None
        return super().convert_and_format_image(file, flatten_on_white)

    def get_block_name(self) -> str:
        return "imageeditor"  # the Svelte component of gr.Sketchpad (Gradio's documented override)
