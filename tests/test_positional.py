"""Core positional encodings against hand-computed values, torch references and the
properties the lab teaches (tolerances stated in each assert)."""

from __future__ import annotations

import math

import pytest
import torch

from playground.transformer import positional as P


# --- sinusoidal --------------------------------------------------------------------------------
def test_sinusoidal_hand_values():
    pe = P.sinusoidal(3, 4)
    # d_model=4: ω = 1 and 1/100 (10000^(2/4) = 100).
    expected = torch.tensor([
        [0.0, 1.0, 0.0, 1.0],
        [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
        [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)],
    ])
    assert pe.shape == (3, 4) and pe.dtype == torch.float32
    assert torch.allclose(pe, expected, atol=1e-6)


@pytest.mark.parametrize("d_model", [2, 16, 512, 1024])
def test_sinusoidal_rows_have_norm_sqrt_half_d(d_model):
    norms = P.sinusoidal(2048, d_model).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, math.sqrt(d_model / 2)), atol=1e-4)


def test_sinusoidal_odd_d_model_keeps_last_sin_and_base_changes_frequencies():
    pe = P.sinusoidal(5, 3, base=100.0)
    assert pe.shape == (5, 3)
    # Last column is sin(pos / 100^(2/3)).
    assert torch.allclose(pe[:, 2], torch.sin(torch.arange(5) / 100 ** (2 / 3)), atol=1e-6)


@pytest.mark.parametrize("args", [(5, 0), (-1, 4), (5, 4, 1.0), (5, 4, float("nan")), (5, 4, float("inf"))])
def test_sinusoidal_rejects_bad_input(args):
    with pytest.raises(ValueError):
        P.sinusoidal(*args)


def test_wavelengths_hand_values():
    wl = P.wavelengths(4, 10000.0)
    assert torch.allclose(wl, torch.tensor([2 * math.pi, 200 * math.pi], dtype=torch.float64))
    assert torch.all(wl[1:] > wl[:-1])  # a geometric ladder, strictly increasing


# --- similarity ---------------------------------------------------------------------------------
def test_dot_similarity_is_sum_of_cosines_of_the_offset():
    d, n = 8, 20
    pe = P.sinusoidal(n, d).double()
    sim = P.similarity(pe)
    omega = P.inverse_frequencies(d)
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    # sin a sin b + cos a cos b = cos(a − b): a function of i − j only.
    expected = torch.cos((i - j)[..., None] * omega).sum(dim=-1)
    assert torch.allclose(sim, expected, atol=1e-5)


@pytest.mark.parametrize("measure", ["dot", "cosine"])
def test_similarity_depends_only_on_distance(measure):
    pe = P.sinusoidal(300, 64)
    profiles = P.similarity_by_offset(pe, [0, 50, 200], 60, measure)
    assert profiles.shape == (3, 61)
    assert torch.allclose(profiles[1], profiles[0], atol=1e-4)
    assert torch.allclose(profiles[2], profiles[0], atol=1e-4)
    assert profiles[0, 0] == pytest.approx(32.0 if measure == "dot" else 1.0, abs=1e-4)


def test_similarity_by_offset_is_nan_past_the_end_and_measure_checked():
    profiles = P.similarity_by_offset(P.sinusoidal(10, 4), [8], 5)
    assert torch.isfinite(profiles[0, :2]).all() and torch.isnan(profiles[0, 2:]).all()
    with pytest.raises(ValueError):
        P.similarity(P.sinusoidal(3, 4), "euclid")


# --- the rotation property -----------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 7, 300])
def test_shift_matrix_moves_every_position_by_k(k):
    d, n = 32, 1000
    pe = P.sinusoidal(n, d).double()
    m = P.shift_matrix(d, k).double()
    assert torch.allclose(pe[:-k] @ m.T, pe[k:], atol=1e-5)
    assert torch.allclose(m @ m.T, torch.eye(d, dtype=torch.float64), atol=1e-6)  # a rotation


def test_shift_matrix_hand_values_for_one_pair():
    m = P.shift_matrix(2, 1)  # ω_0 = 1: rotate by 1 radian
    c, s = math.cos(1), math.sin(1)
    assert torch.allclose(m, torch.tensor([[c, s], [-s, c]]), atol=1e-6)


def test_shift_demo_and_its_checks():
    demo = P.shift_demo(64, 16, k=5, pos=10)
    assert demo.max_error < 1e-5
    assert torch.allclose(demo.predicted, demo.pe_target, atol=1e-5)
    assert torch.allclose(demo.angles, 5 * P.inverse_frequencies(16))
    with pytest.raises(ValueError):
        P.shift_demo(64, 16, k=60, pos=10)  # pos + k beyond the length
    with pytest.raises(ValueError):
        P.shift_matrix(7, 1)


# --- PCA -----------------------------------------------------------------------------------------
def test_pca_matches_svd_and_is_deterministic():
    x = torch.randn(200, 30, generator=torch.Generator().manual_seed(0))
    result = P.pca(x, 3)
    centred = (x - x.mean(0)).double()
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    reference = u[:, :3] * s[:3]
    assert torch.allclose(result.coords.abs().double(), reference.abs(), atol=1e-4)
    assert torch.allclose(result.explained.double(), s[:3] ** 2 / (s**2).sum(), atol=1e-6)
    assert torch.equal(P.pca(x, 3).coords, result.coords)


def test_pca_of_sinusoidal_pair_zero_is_a_circle():
    pe = P.sinusoidal(629, 2)  # one pair, ≈ 100 turns: points on the unit circle
    coords = P.pca(pe, 2).coords
    assert torch.allclose(coords.norm(dim=1), torch.ones(629), atol=0.02)


# --- learned position embeddings of the shipped encoder ------------------------------------------
def test_turn_per_step_of_a_pure_clock_hand_is_its_frequency():
    pe = P.sinusoidal(200, 2)  # pair 0: ω = 1 rad per position; (x, y) = (sin, cos) turns clockwise
    assert torch.allclose(P.turn_per_step(pe), torch.full((199,), -1.0, dtype=torch.float64), atol=1e-5)
    # After PCA (centred on a mean that is almost 0) the steps stay close to 1 radian.
    steps = P.turn_per_step(P.pca(pe, 2).coords).abs()
    assert torch.allclose(steps, torch.ones(199, dtype=torch.float64), atol=0.05)


def test_learned_positions_of_minilm():
    table = P.learned_positions()
    assert table.shape == (512, 384)
    assert torch.isfinite(table).all()
    norms = table.norm(dim=1)
    # What the lab says about the real table: position 0 ([CLS]) stands out, neighbours are alike.
    assert norms[0] > 3 * norms.median()
    unit = torch.nn.functional.normalize(table, dim=1)
    neighbours = (unit[1:128] * unit[2:129]).sum(dim=1)
    assert neighbours.mean() > 0.7
    assert (unit[1:128] * unit[300:427]).sum(dim=1).mean() < neighbours.mean() - 0.3
    # The lab's claim: in the top-2 PCA plane of the whole table, steps turn by a steady ~60°.
    step = P.turn_per_step(P.pca(table, 2).coords[1:]).abs().median()
    assert 0.8 < step < 1.4


def test_learned_positions_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError):
        P.learned_positions("no-such/model")


# --- RoPE ----------------------------------------------------------------------------------------
def test_rope_rotate_matches_complex_multiplication():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 8, generator=gen, dtype=torch.float64)
    positions = torch.tensor([0, 1, 2, 10, 1000])
    theta = P.inverse_frequencies(8)
    as_complex = torch.view_as_complex(x.reshape(5, 4, 2).contiguous())
    reference = torch.view_as_real(as_complex * torch.polar(torch.ones(5, 4, dtype=torch.float64),
                                                            positions[:, None] * theta)).reshape(5, 8)
    out = P.rope_rotate(x, positions)
    assert torch.allclose(out, reference, atol=1e-10)
    assert torch.allclose(out[0], x[0])  # position 0: no rotation
    assert torch.allclose(out.norm(dim=1), x.norm(dim=1))  # rotations keep length


def test_rope_scores_are_shift_invariant_to_1e5():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(6, 64, generator=gen), torch.randn(6, 64, generator=gen)
    m = torch.randint(0, 500, (6,), generator=gen)
    n = torch.randint(0, 500, (6,), generator=gen)
    base_scores = P.rope_scores(q, k, m, n)
    for shift in (1, 17, 1500):
        shifted = P.rope_scores(q, k, m + shift, n + shift)
        assert torch.allclose(shifted, base_scores, atol=1e-5), shift
    # Added sinusoidal PE is NOT shift invariant: the contrast the lab draws.
    assert not torch.allclose(P.additive_scores(q, k, m + 17, n + 17), P.additive_scores(q, k, m, n), atol=1e-2)


def test_rope_demo_heatmap_is_constant_along_diagonals():
    demo = P.rope_demo(16, 40, seed=3)
    assert demo.rope.shape == (40, 40)
    for offset in (-5, 0, 9):
        diagonal = torch.diagonal(demo.rope, offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-5)
    assert demo.max_shift_deviation < 1e-5
    assert (demo.additive_by_shift - demo.additive_by_shift[0]).abs().max() > 0.1
    with pytest.raises(ValueError):
        P.rope_rotate(torch.zeros(3, 5), torch.arange(3))


# --- ALiBi ---------------------------------------------------------------------------------------
def test_alibi_slopes_hand_values():
    assert torch.allclose(P.alibi_slopes(8), torch.tensor([2.0 ** -i for i in range(1, 9)]))
    # Not a power of two (Press et al.'s code): the 8 slopes, then every other one of 16.
    twelve = P.alibi_slopes(12)
    assert torch.allclose(twelve[8:], torch.tensor([2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]))
    with pytest.raises(ValueError):
        P.alibi_slopes(0)


def test_alibi_bias_hand_values():
    bias = P.alibi_bias(3, 2, causal=True)  # slopes 1/16, 1/256
    inf = float("-inf")
    expected_head0 = torch.tensor([[0, inf, inf], [-1 / 16, 0, inf], [-2 / 16, -1 / 16, 0]])
    assert torch.equal(torch.isinf(bias[0]), torch.isinf(expected_head0))
    assert torch.allclose(bias[0][torch.isfinite(bias[0])], expected_head0[torch.isfinite(expected_head0)])
    symmetric = P.alibi_bias(3, 2, causal=False)
    assert torch.allclose(symmetric[1], symmetric[1].T) and symmetric[1, 0, 2] == pytest.approx(-2 / 256)


def test_alibi_attention_decays_with_distance():
    weights = P.alibi_attention(20, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 20), atol=1e-6)
    last = weights[:, -1]  # (heads, keys): the nearest key gets the most
    assert torch.all(last[:, 1:] >= last[:, :-1])
    assert last[0, -1] > last[-1, -1]  # the steepest head is the most local
