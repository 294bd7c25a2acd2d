"""Positional encodings: how a transformer knows word order.

Self-attention is permutation-invariant: without extra information "dog bites man" and
"man bites dog" look the same to it. Positional encodings add (or rotate in) the order.

- Sinusoidal encodings: Vaswani et al. 2017, "Attention Is All You Need", section 3.5,
  https://arxiv.org/abs/1706.03762
"""

from __future__ import annotations

import math

import torch


def sinusoidal(length: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / base^(2i/d_model)), PE[pos, 2i+1] = cos(pos / base^(2i/d_model)).

    Returns a float32 tensor of shape (length, d_model). An odd d_model keeps the last sin
    column without its cos partner.
    """
    if length < 0 or d_model < 1:
        raise ValueError("length must be ≥ 0 and d_model ≥ 1.")
    if not base > 1:
        raise ValueError("The base must be a number greater than 1.")
    pos = torch.arange(length, dtype=torch.float64)[:, None]  # (length, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d_model/2),)
    # Frequencies fall geometrically from 1 to 1/base: wavelengths from 2π to 2π·base.
    inv_freq = torch.exp(-math.log(base) * two_i / d_model)  # (ceil(d_model/2),)
    angle = pos * inv_freq  # (length, ceil(d_model/2))
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()
