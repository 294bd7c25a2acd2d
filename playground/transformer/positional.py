"""Positional encodings: how a transformer knows word order.

Self-attention treats its input as a set: without extra information "dog bites man" and
"man bites dog" give the same attention scores. Positional encodings put the order back.

- Sinusoidal (fixed) encodings, added to the token embeddings: Vaswani et al. 2017,
  "Attention Is All You Need", section 3.5, https://arxiv.org/abs/1706.03762
- Learned absolute position embeddings, one trained vector per position (BERT):
  Devlin et al. 2019, https://arxiv.org/abs/1810.04805
- Rotary position embedding (RoPE), rotating queries and keys by their position:
  Su et al. 2021, "RoFormer", https://arxiv.org/abs/2104.09864
- Attention with linear biases (ALiBi), a distance penalty added to the scores:
  Press et al. 2022, "Train Short, Test Long", https://arxiv.org/abs/2108.12409
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from playground.service.model_service import DEFAULT_ENCODER, get_service


# --- sinusoidal -------------------------------------------------------------------------
def _check_base(base: float) -> None:
    if not base > 1 or math.isinf(base):  # also refuses NaN
        raise ValueError("The base must be a finite number greater than 1.")


def inverse_frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """ω_i = 1 / base^(2i/d_model) for each pair i, float64, shape (ceil(d_model/2),).

    Frequencies fall geometrically from 1 (pair 0) towards 1/base (the last pair)."""
    _check_base(base)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    return torch.exp(-math.log(base) * two_i / d_model)


def sinusoidal(length: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i), ω_i = base^(-2i/d_model).

    Returns float32, shape (length, d_model). An odd d_model keeps the last sin column
    without its cos partner. Angles are computed in float64: pos·ω reaches thousands of
    radians, where float32 would lose the fast dimensions' phase.
    """
    if length < 0 or d_model < 1:
        raise ValueError("length must be ≥ 0 and d_model ≥ 1.")
    angle = torch.arange(length, dtype=torch.float64)[:, None] * inverse_frequencies(d_model, base)
    pe = torch.zeros(length, d_model, dtype=torch.float64)  # (length, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


def wavelengths(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """Positions per full turn of each (sin, cos) pair: 2π·base^(2i/d_model), shape (ceil(d/2),)."""
    return 2 * math.pi / inverse_frequencies(d_model, base)


# --- similarity between positions ---------------------------------------------------------
def _for_measure(pe: torch.Tensor, measure: str) -> torch.Tensor:
    """Rows as they enter the similarity: unchanged for "dot", unit length for "cosine"."""
    if measure == "cosine":
        return torch.nn.functional.normalize(pe, dim=1)
    if measure != "dot":
        raise ValueError("The similarity must be 'dot' or 'cosine'.")
    return pe


def similarity(pe: torch.Tensor, measure: str = "dot") -> torch.Tensor:
    """All-pairs similarity of position vectors, (length, d) → (length, length).

    "dot" is what attention sees; "cosine" divides out the vectors' lengths."""
    pe = _for_measure(pe, measure)
    return pe @ pe.T


def similarity_by_offset(pe: torch.Tensor, references: list[int], max_offset: int,
                         measure: str = "dot") -> torch.Tensor:
    """sim(p, p+k) for each reference position p and k = 0..max_offset, NaN past the end,
    shape (len(references), max_offset + 1).

    For sinusoidal encodings every row is the same curve: similarity depends only on k
    (sum_i cos(k·ω_i) for "dot")."""
    pe = _for_measure(pe, measure)
    out = torch.full((len(references), max_offset + 1), float("nan"))
    for row, p in enumerate(references):
        stop = min(pe.shape[0], p + max_offset + 1)
        out[row, : stop - p] = pe[p:stop] @ pe[p]
    return out


# --- the linear-map (rotation) property --------------------------------------------------
def shift_matrix(d_model: int, k: int, base: float = 10000.0) -> torch.Tensor:
    """M_k with PE(pos + k) = M_k · PE(pos) for EVERY pos, shape (d_model, d_model).

    Pair i is (sin θ, cos θ); shifting by k adds φ = k·ω_i to θ:
    sin(θ+φ) = cos φ·sin θ + sin φ·cos θ and cos(θ+φ) = −sin φ·sin θ + cos φ·cos θ,
    a 2×2 rotation that does not depend on pos. M_k is block-diagonal in these blocks."""
    if d_model % 2:
        raise ValueError("The shift matrix needs an even d_model (sin and cos come in pairs).")
    phi = k * inverse_frequencies(d_model, base)  # (d_model/2,)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    idx = torch.arange(0, d_model, 2)
    m[idx, idx] = torch.cos(phi)
    m[idx, idx + 1] = torch.sin(phi)
    m[idx + 1, idx] = -torch.sin(phi)
    m[idx + 1, idx + 1] = torch.cos(phi)
    return m.float()


@dataclass(frozen=True)
class ShiftDemo:
    pos: int
    k: int
    matrix: torch.Tensor  # (d, d) M_k, the same for every position
    pe_pos: torch.Tensor  # (d,) PE(pos)
    pe_target: torch.Tensor  # (d,) PE(pos + k), computed directly
    predicted: torch.Tensor  # (d,) M_k · PE(pos)
    angles: torch.Tensor  # (d/2,) rotation angle k·ω_i of each pair, radians
    max_error: float  # max |M_k·PE(p) − PE(p+k)| over every p that fits in the length


def shift_demo(length: int, d_model: int, k: int, pos: int, base: float = 10000.0) -> ShiftDemo:
    """Check numerically that one matrix M_k moves every position k steps forward."""
    if not (0 <= pos and 0 <= k and pos + k < length):
        raise ValueError(f"Need 0 ≤ pos, 0 ≤ k and pos + k below the length ({length}).")
    pe = sinusoidal(length, d_model, base).double()
    m = shift_matrix(d_model, k, base).double()
    predicted_all = pe[: length - k] @ m.T  # (length − k, d): row p is M_k·PE(p)
    error = (predicted_all - pe[k:]).abs().max().item() if length > k else 0.0
    return ShiftDemo(pos=pos, k=k, matrix=m.float(), pe_pos=pe[pos].float(),
                     pe_target=pe[pos + k].float(), predicted=predicted_all[pos].float(),
                     angles=k * inverse_frequencies(d_model, base), max_error=error)


# --- learned absolute position embeddings (BERT-style) -----------------------------------
def learned_positions(model_id: str = DEFAULT_ENCODER) -> torch.Tensor:
    """The trained table of a BERT-like model: one vector per position, (max_positions, hidden)."""
    model = get_service().load(model_id, "AutoModel").model
    table = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    if not isinstance(table, torch.nn.Embedding):
        raise ValueError(f"{model_id} has no learned absolute position table.")
    return table.weight.detach().float().cpu()


@dataclass(frozen=True)
class PCA:
    coords: torch.Tensor  # (n, k) each row projected on the top-k principal axes
    explained: torch.Tensor  # (k,) fraction of the variance each axis explains


def pca(x: torch.Tensor, k: int = 2) -> PCA:
    """Project rows (n, d) on their top-k principal axes: eigenvectors of the covariance.

    The d × d covariance is smaller than an SVD of the whole table and gives the same axes."""
    x = x.double() - x.double().mean(dim=0)
    values, vectors = torch.linalg.eigh(x.T @ x)  # ascending eigenvalues, (d,), (d, d)
    axes = vectors[:, -k:].flip(1)  # (d, k), largest first
    # Eigenvectors' signs are arbitrary; fix them so the same data always looks the same.
    axes = axes * torch.sign(axes.gather(0, axes.abs().argmax(dim=0, keepdim=True)))
    explained = values[-k:].flip(0).clamp_min(0) / values.clamp_min(0).sum().clamp_min(1e-12)
    return PCA(coords=(x @ axes).float(), explained=explained.float())


def turn_per_step(coords: torch.Tensor) -> torch.Tensor:
    """Angle (radians, in (−π, π]) from each 2-D point to the next around the origin, (n − 1,).

    A steady angle means consecutive positions walk around a circle like a clock hand."""
    angle = torch.atan2(coords[:, 1].double(), coords[:, 0].double())
    step = torch.diff(angle)
    return torch.remainder(step + math.pi, 2 * math.pi) - math.pi


# --- RoPE ----------------------------------------------------------------------------------
def rope_rotate(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate each pair (x_2i, x_2i+1) by the angle position·θ_i, θ_i = base^(-2i/d).

    x: (..., T, d) with even d; positions: (T,). Returns the same shape and dtype."""
    d = x.shape[-1]
    if d % 2:
        raise ValueError("RoPE needs an even head size (it rotates pairs of numbers).")
    angle = positions.double()[:, None] * inverse_frequencies(d, base)  # (T, d/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # (..., T, d/2) each
    rotated = torch.stack([x_even * cos - x_odd * sin, x_even * sin + x_odd * cos], dim=-1)
    return rotated.flatten(-2)  # interleave back to (..., T, d)


def rope_scores(q: torch.Tensor, k: torch.Tensor, q_positions: torch.Tensor,
                k_positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Scaled dot-product scores of rotated queries (Tq, d) and keys (Tk, d) → (Tq, Tk)."""
    q_rot = rope_rotate(q, q_positions, base)
    k_rot = rope_rotate(k, k_positions, base)
    return q_rot @ k_rot.T / math.sqrt(q.shape[-1])


def additive_scores(q: torch.Tensor, k: torch.Tensor, q_positions: torch.Tensor,
                    k_positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """The same scores when sinusoidal PE is ADDED to q and k instead (Tq, Tk), for contrast."""
    d = q.shape[-1]
    pe = sinusoidal(int(max(q_positions.max(), k_positions.max())) + 1, d, base)
    return (q + pe[q_positions]) @ (k + pe[k_positions]).T / math.sqrt(d)


@dataclass(frozen=True)
class RoPEDemo:
    q: torch.Tensor  # (d,) one query vector, the same content at every position
    k: torch.Tensor  # (d,) one key vector
    rope: torch.Tensor  # (T, T) score of q at position m with k at position n, RoPE
    additive: torch.Tensor  # (T, T) the same with sinusoidal PE added instead
    offsets: torch.Tensor  # (n_offsets,) relative offset n − m
    shifts: torch.Tensor  # (n_shifts,) absolute query position m
    rope_by_shift: torch.Tensor  # (n_shifts, n_offsets) RoPE score at (m, m + offset)
    additive_by_shift: torch.Tensor  # (n_shifts, n_offsets) additive score at (m, m + offset)
    max_shift_deviation: float  # RoPE: largest change of a score when the pair moves


def rope_demo(d_head: int, length: int, base: float = 10000.0, seed: int = 0,
              shifts: tuple[int, ...] = (40, 100, 400, 1000), max_offset: int = 32) -> RoPEDemo:
    """One random query/key pair placed at every position: RoPE scores depend only on n − m,
    additive sinusoidal scores also depend on where the pair sits."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(d_head, generator=gen)
    k = torch.randn(d_head, generator=gen)
    pos = torch.arange(length)
    qs, ks = q.expand(length, d_head), k.expand(length, d_head)
    offsets = torch.arange(-max_offset, max_offset + 1)
    shift_t = torch.tensor(shifts)
    rope_by_shift = torch.stack([rope_scores(q[None], k[None], m[None], m + offsets, base)[0]
                                 for m in shift_t])
    additive_by_shift = torch.stack([additive_scores(q[None], k[None], m[None], m + offsets, base)[0]
                                     for m in shift_t])
    return RoPEDemo(q=q, k=k, rope=rope_scores(qs, ks, pos, pos, base),
                    additive=additive_scores(qs, ks, pos, pos, base), offsets=offsets,
                    shifts=shift_t, rope_by_shift=rope_by_shift, additive_by_shift=additive_by_shift,
                    max_shift_deviation=(rope_by_shift - rope_by_shift[0]).abs().max().item())


# --- ALiBi ---------------------------------------------------------------------------------
def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Press et al.'s head slopes: for 8 heads 1/2, 1/4, ..., 1/256 (a geometric sequence
    starting at 2^(-8/n)); for n not a power of two, interleave from the next power of two."""
    if n_heads < 1:
        raise ValueError("ALiBi needs at least one head.")
    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]
    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(closest)
    if closest != n_heads:
        slopes += power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float64).float()


def alibi_bias(length: int, n_heads: int, causal: bool = True) -> torch.Tensor:
    """Bias added to the scores, (n_heads, length, length): −slope·(i − j) for query i, key j.

    Causal (decoder, as in the paper): future keys j > i are −inf. Not causal: −slope·|i − j|."""
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    distance = (i - j).abs().float()  # (length, length)
    bias = -alibi_slopes(n_heads)[:, None, None] * distance  # (H, L, L)
    if causal:
        bias = bias.masked_fill(j > i, float("-inf"))
    return bias


def alibi_attention(length: int, n_heads: int, causal: bool = True) -> torch.Tensor:
    """Softmax of the bias alone (all content scores equal): where each head looks, (H, L, L)."""
    return torch.softmax(alibi_bias(length, n_heads, causal), dim=-1)
