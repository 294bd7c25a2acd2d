"""Input checks shared by the core: each raises ValueError with a message for a student,
or clamps and says so."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import replace


def clean_text(text: object, max_chars: int = 20_000, name: str = "text") -> str:
    """A non-empty string without control characters; refuses huge input with a message."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ValueError(f"The {name} must be text, not {type(text).__name__}.")
    if len(text) > max_chars:
        raise ValueError(f"The {name} has {len(text):,} characters; the limit is {max_chars:,}. "
                         "Please shorten it.")
    # Control characters (but not newline/tab) confuse tokenizers and the display.
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if not text.strip():
        raise ValueError(f"The {name} is empty: please type something.")
    return text


def clamp(value: object, low: float, high: float, name: str, integer: bool = False
          ) -> tuple[float, str]:
    """Clamp a number into [low, high]; return it and a note ("" if unchanged).
    NaN, None and non-numbers raise ValueError."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number.") from None
    if math.isnan(number):
        raise ValueError(f"{name} must be a number, not NaN.")
    clamped = min(max(number, low), high)
    if integer:
        clamped = int(round(clamped))
    note = "" if clamped == number else f"{name} was set to {clamped:g} (allowed {low:g} to {high:g})."
    return clamped, note


def validated(defaults, limits: dict, choices: dict, values: dict) -> tuple[object, list[str]]:
    """``defaults`` (a frozen config) with ``values`` applied: unknown choices and NaN are
    refused (ValueError), out-of-range numbers are clamped with a note for the student."""
    notes: list[str] = []
    clean: dict[str, object] = {}
    for name, value in values.items():
        if name in choices:
            if value not in choices[name]:
                raise ValueError(f"{name} must be one of: {', '.join(map(str, choices[name]))}.")
            clean[name] = value
        elif name in limits:
            low, high, integer = limits[name]
            clean[name], note = clamp(value, low, high, name.replace("_", " "), integer)
            notes += [note] if note else []
        else:
            raise ValueError(f"Unknown setting '{name}'.")
    return replace(defaults, **clean), notes
