"""Core positional encodings against hand-computed values and their properties."""

from __future__ import annotations

import math

import pytest
import torch

from playground import positional as P


def test_sinusoidal_hand_values():
    pe = P.sinusoidal(3, 4)
    # d_model=4: frequencies 1 and 1/100 (10000^(2/4) = 100).
    expected = torch.tensor([
        [0.0, 1.0, 0.0, 1.0],
        [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
        [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)],
    ])
    assert pe.shape == (3, 4)
    assert torch.allclose(pe, expected, atol=1e-6)


@pytest.mark.parametrize("d_model", [2, 16, 512])
def test_sinusoidal_rows_have_norm_sqrt_half_d(d_model):
    norms = P.sinusoidal(100, d_model).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, math.sqrt(d_model / 2)), atol=1e-4)


def test_sinusoidal_odd_d_model_and_bad_input():
    assert P.sinusoidal(5, 3).shape == (5, 3)
    with pytest.raises(ValueError):
        P.sinusoidal(5, 0)
    with pytest.raises(ValueError):
        P.sinusoidal(5, 4, base=1.0)
