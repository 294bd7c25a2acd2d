"""A tiny Vision Transformer that reads hand-drawn digits, and what its attention looks at.

A ViT (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words",
https://arxiv.org/abs/2010.11929) cuts an image into square patches, embeds each patch
as a token, prepends a learned [CLS] token and runs a Transformer encoder; the class is
read from the [CLS] token. Ours is trained on scikit-learn's 8×8 digits (the UCI
"optdigits" set: 32×32 binary scans summed over 4×4 blocks, so each pixel is 0..16)
by ``python -m playground.train.vit_digits``.

A student's drawing (any size, dark ink on white, or light on dark) is first mapped to
that format by ``preprocess_drawing``: grayscale → ink is bright → crop to the ink →
pad to a square → 32×32 binary → 4×4 block counts 0..16.
Attention is shown as the [CLS] row of each layer's attention matrix, and as attention
rollout (Abnar & Zuidema 2020, https://arxiv.org/abs/2005.00928).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import distance_transform_edt

MODEL_ID = "neural-playground/vit-digits"
SIDE = 8  # the model's input: 8×8 pixels, like sklearn's digits
MAX_VALUE = 16  # sklearn digits count ink pixels in 4×4 blocks of a 32×32 scan: 0..16
SCAN_SIDE = 32  # the resolution of the original binary scans
MAX_INPUT_SIDE = 10_000  # refuse absurd images before touching their pixels
WORK_SIDE = 512  # large drawings are shrunk to this first so that any size is fast
INK_THRESHOLD = 0.25  # a scan pixel is ink when at least this much of it is covered
STROKE_WIDTH = 4.0  # pen width in scan pixels (of 32) that thin drawings are thickened to


@dataclass(frozen=True)
class DigitInput:
    """A drawing mapped to the digits format, with what was done to it."""

    values: np.ndarray  # (8, 8) float in 0..16, ink high, as in sklearn's load_digits()
    inverted: bool  # True when the drawing had dark ink on a light background
    bbox: tuple[int, int, int, int]  # (left, top, right, bottom) of the ink, in the input's pixels
    original_size: tuple[int, int]  # (width, height) of the input


@dataclass(frozen=True)
class PatchAttention:
    """Where the [CLS] token looks, per layer and head (eager attention)."""

    values: np.ndarray  # (8, 8) the digit the model saw, 0..16
    grid: int  # patches per side (8 / patch_size)
    patch_size: int  # pixels per patch side
    cls_rows: np.ndarray  # (layers, heads, 1 + grid²) the [CLS] token's softmax row; sums to 1
    rollout: np.ndarray  # (grid, grid) attention rollout of [CLS] to the patches, sums to 1

    @property
    def to_patches(self) -> np.ndarray:
        """(layers, heads, grid, grid): [CLS] → patch weights in image layout."""
        layers, heads, _ = self.cls_rows.shape
        return self.cls_rows[:, :, 1:].reshape(layers, heads, self.grid, self.grid)

    @property
    def to_cls(self) -> np.ndarray:
        """(layers, heads): the weight the [CLS] token keeps on itself."""
        return self.cls_rows[:, :, 0]

    def head_mean(self) -> np.ndarray:
        """(layers, grid, grid): [CLS] → patch weights averaged over heads."""
        return self.to_patches.mean(axis=1)


def values_to_image(values: np.ndarray) -> Image.Image:
    """An 8×8 digit (0..16, ink high) as the RGB image the ViT's processor expects.

    Ink is bright, as in the training data; the processor rescales 0..255 to -1..1.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (SIDE, SIDE):
        raise ValueError(f"A digit must be {SIDE}×{SIDE} values, got shape {values.shape}.")
    grey = np.clip(np.round(values * 255.0 / MAX_VALUE), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def _as_pil(image: Any) -> Image.Image:
    """Accept a PIL image or a numpy array (H, W) / (H, W, 3|4), already decoded by the UI."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"That array is not an image (shape {image.shape}).")
        array = np.nan_to_num(image.astype(np.float64))
        if array.max() <= 1.0 and image.dtype.kind == "f":
            array = array * 255.0  # float images in 0..1
        array = np.clip(array, 0, 255).astype(np.uint8)
        return Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    if image is None:
        raise ValueError("Please draw a digit or upload an image.")
    raise ValueError(f"Expected an image, got {type(image).__name__}. Please upload a PNG or JPEG.")


def _ink_fraction(image: Image.Image) -> tuple[np.ndarray, bool]:
    """(H, W) ink coverage in 0..1 and whether the drawing had to be inverted.

    Transparent pixels count as background (a sketchpad's empty canvas). The ink colour
    is decided by the border: a light border means dark ink on a light background.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0  # (H, W), 1 = white
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    ink = 1.0 - grey if inverted else grey
    # Subtract the background level so that grey paper or a dark-grey canvas reads as empty.
    ink = np.clip(ink - np.median(1.0 - border if inverted else border), 0.0, None)
    peak = ink.max()
    return (ink / peak if peak > 0 else ink), inverted


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels of a binary image: a stroke w pixels wide has
    distances to the background 1..w/2 across it, whose mean is about (w/2 + 1) / 2."""
    inside = distance_transform_edt(ink)[ink]
    return float(max(1.0, 4.0 * inside.mean() - 2.0)) if inside.size else 0.0


def thicken(ink: np.ndarray, target: float) -> np.ndarray:
    """Grow thin strokes to ``target`` pixels wide. A sketchpad pen is thin next to the
    optdigits scans (about 4 of 32 pixels), and the model has only seen those."""
    grow = (target - stroke_width(ink)) / 2
    if grow <= 0:
        return ink
    return distance_transform_edt(~ink) <= grow  # every pixel within ``grow`` of the ink


def preprocess_drawing(image: Any) -> DigitInput:
    """Map any image of one digit to the 8×8, 0..16 format of sklearn's digits.

    Accepts a PIL image or a numpy array (grey, RGB or RGBA; uint8 or float 0..1).
    Steps: ink coverage (grayscale,
    inverted when the background is light, transparent = background) → crop to the
    ink's bounding box → pad to a centred square → 32×32 → binarise → count ink in
    4×4 blocks (0..16), as the original scans were made.
    Raises ValueError with a plain message for non-images, absurd sizes or no ink.
    """
    pil = _as_pil(image)
    width, height = pil.size
    if width < 1 or height < 1:
        raise ValueError("The image is empty.")
    if max(width, height) > MAX_INPUT_SIDE:
        raise ValueError(f"The image is {width}×{height} pixels; the limit is "
                         f"{MAX_INPUT_SIDE:,} pixels a side. Please use a smaller image.")
    scale = 1.0
    if max(width, height) > WORK_SIDE:  # keep big uploads fast: a digit needs few pixels
        scale = WORK_SIDE / max(width, height)
        pil = pil.copy()
        pil.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    ink, inverted = _ink_fraction(pil)
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise ValueError("No digit found: the image looks blank. Draw a digit with a dark pen "
                         "on a light background (or light on dark).")
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = ink[top:bottom, left:right] > INK_THRESHOLD
    side = max(crop.shape)
    square = np.zeros((side, side), dtype=bool)  # centre the ink; the longer side fills the frame
    y0, x0 = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    square = thicken(square, STROKE_WIDTH * side / SCAN_SIDE)
    scan = Image.fromarray(square.astype(np.uint8) * 255, mode="L").resize(
        (SCAN_SIDE, SCAN_SIDE), Image.Resampling.BOX)  # BOX = area average = ink coverage
    binary = np.asarray(scan, dtype=np.float64) / 255.0 >= INK_THRESHOLD  # (32, 32)
    block = SCAN_SIDE // SIDE
    values = binary.reshape(SIDE, block, SIDE, block).sum(axis=(1, 3)).astype(np.float64)  # (8, 8)
    bbox = tuple(int(round(v / scale)) for v in (left, top, right, bottom))
    return DigitInput(values=values, inverted=inverted, bbox=bbox,  # type: ignore[arg-type]
                      original_size=(width, height))


def load_vit_digits() -> Any:
    """The shipped ViT through the model service (eager attention, with its image processor).

    Returns the service's ``Loaded``: ``.model`` (ViTForImageClassification, eval mode)
    and ``.image_processor`` (ViTImageProcessor: 8×8, rescale to -1..1).
    """
    from playground.service.model_service import get_service

    return get_service().load(MODEL_ID, "AutoModelForImageClassification", eager_attention=True)


def digits_pipeline(loaded: Any = None) -> Any:
    """A real ``transformers.pipeline("image-classification")`` on the shipped ViT (cached)."""
    from transformers import pipeline

    from playground.service.model_service import get_service

    loaded = loaded or load_vit_digits()
    return get_service().memo(("pipeline", "image-classification", loaded.info.id, id(loaded.model)),
                              lambda: pipeline("image-classification", model=loaded.model,
                                               image_processor=loaded.image_processor))


def classify_digit(values: np.ndarray, top_k: int = 10) -> list[dict[str, Any]]:
    """Scores for an 8×8 digit (0..16) from the real pipeline: [{"label": "3", "score": 0.97}, ...].

    Call ``preprocess_drawing`` first for a drawing; labels are "0".."9", best first.
    """
    top_k = int(min(max(top_k, 1), 10))
    return digits_pipeline()(values_to_image(values), top_k=top_k)


def patch_attention(values: np.ndarray, loaded: Any = None) -> PatchAttention:
    """The [CLS] token's attention over the patches, per layer and head, for one digit.

    ``values`` is an 8×8 digit (0..16), e.g. ``preprocess_drawing(img).values``.
    Uses the model's eager attention (softmax weights, rows sum to 1).
    """
    loaded = loaded or load_vit_digits()
    model, processor = loaded.model, loaded.image_processor
    pixels = processor(values_to_image(values), return_tensors="pt")["pixel_values"]  # (1, 3, 8, 8)
    with torch.no_grad():
        out = model(pixel_values=pixels.to(loaded.device), output_attentions=True)
    return _patch_attention(values, out.attentions, model)


_seen = threading.local()  # the attentions of this thread's last forward pass of a hooked ViT
_hooked: weakref.WeakSet = weakref.WeakSet()
_hook_lock = threading.Lock()


def _keep_attentions(module: Any, args: Any, output: Any) -> None:
    _seen.attentions = output.attentions


def classify_with_attention(values: np.ndarray, pipe: Any,
                            top_k: int = 10) -> tuple[list[dict[str, Any]], PatchAttention]:
    """An image-classification pipeline's scores for a digit, and the attention of that
    same forward pass.

    The model is set to return its attention weights and a forward hook keeps them, per
    thread, as the pipeline runs: one pass for both, where calling ``patch_attention``
    as well would run the model twice."""
    model = pipe.model
    with _hook_lock:
        if model not in _hooked:
            model.config.output_attentions = True
            model.register_forward_hook(_keep_attentions)
            _hooked.add(model)
    _seen.attentions = None
    scores = pipe(values_to_image(values).convert("RGB"), top_k=top_k)
    return scores, _patch_attention(values, _seen.attentions, model)


def _patch_attention(values: np.ndarray, attentions: Any, model: Any) -> PatchAttention:
    if not attentions:
        raise ValueError("This model returned no attention weights (load it with eager attention).")
    attn = torch.stack(attentions)[:, 0].float().cpu()  # (layers, heads, T, T), T = 1 + grid²
    patch_size = int(model.config.patch_size)
    return PatchAttention(values=np.asarray(values, dtype=np.float64), grid=SIDE // patch_size,
                          patch_size=patch_size, cls_rows=attn[:, :, 0, :].numpy(),
                          rollout=_rollout(attn, SIDE // patch_size))


def _rollout(attn: torch.Tensor, grid: int) -> np.ndarray:
    """Attention rollout: multiply the layers' head-averaged attention, each mixed with the
    identity for the residual connection (Abnar & Zuidema 2020)."""
    tokens = attn.shape[-1]
    flow = torch.eye(tokens)
    for layer in attn.mean(dim=1):  # (T, T) per layer
        mixed = 0.5 * layer + 0.5 * torch.eye(tokens)
        flow = (mixed / mixed.sum(dim=-1, keepdim=True)) @ flow
    cls_to_patches = flow[0, 1:]
    return (cls_to_patches / cls_to_patches.sum()).reshape(grid, grid).numpy()
