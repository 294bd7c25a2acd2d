"""Recurrent cells step by step: the Elman RNN, the LSTM and the GRU, written out as
their equations so that every intermediate number can be shown to a student.

- Elman 1990, "Finding structure in time": h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).
- Hochreiter & Schmidhuber 1997, "Long short-term memory" (with the forget gate of
  Gers et al. 2000): gates i, f, g, o and a cell state c_t = f ⊙ c_{t-1} + i ⊙ g.
- Cho et al. 2014, the GRU: reset gate r, update gate z, candidate n.
- Bengio et al. 1994 and Pascanu et al. 2013: why ‖∂h_T/∂h_t‖ vanishes or explodes, and
  why the LSTM's cell-state path ‖∂c_T/∂c_t‖ does not.

Weights use PyTorch's layout (gate blocks stacked in the order i, f, g, o for the LSTM and
r, z, n for the GRU) so that the tests can prove these equations equal
``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` with the same numbers. The stepping and
the backpropagation through time are plain numpy float64 (the tests check
them against the torch cells and autograd); torch only makes PyTorch's default random
initialisation, and is imported on first use so that the app starts without it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping

import numpy as np

from playground.service.validate import clamp, clean_text

if TYPE_CHECKING:
    import torch

CELL_KINDS = ("rnn", "lstm", "gru")
CELL_NAMES = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
MAX_STEPS = 100  # longer sequences make unreadable heat-maps and slow pages
MAX_HIDDEN = 16  # every number of the state must stay readable
MAX_INPUT = 32  # one-hot columns: distinct characters of the sequence
MAX_ABS_INPUT = 100.0  # numbers beyond this only saturate every gate


@dataclass(frozen=True)
class CellWeights:
    """One recurrent cell's parameters in torch's layout (G gate blocks of H rows)."""

    kind: str  # "rnn" | "lstm" | "gru"
    w_ih: np.ndarray  # (G·H, I)
    w_hh: np.ndarray  # (G·H, H)
    b_ih: np.ndarray  # (G·H,)
    b_hh: np.ndarray  # (G·H,)

    @property
    def hidden_size(self) -> int:
        return self.w_hh.shape[1]

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]

    def block(self, gate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(W_i, W_h, b_i, b_h) of one gate: rows k·H .. (k+1)·H of each matrix."""
        k, size = GATES[self.kind].index(gate), self.hidden_size
        rows = slice(k * size, (k + 1) * size)
        return self.w_ih[rows], self.w_hh[rows], self.b_ih[rows], self.b_hh[rows]


@dataclass(frozen=True)
class Step:
    """Everything one time step computed. Gate names follow torch: RNN "h"; LSTM i, f,
    g, o; GRU r, z, n. ``pre[g] = from_input[g] + from_hidden[g]`` except GRU's n, where
    the reset gate scales the hidden part: ``pre[n] = from_input[n] + r ⊙ from_hidden[n]``."""

    x: np.ndarray  # (I,) the input x_t
    h_prev: np.ndarray  # (H,)
    c_prev: np.ndarray | None  # (H,) LSTM only
    from_input: Mapping[str, np.ndarray]  # gate → W_i x_t + b_i, (H,)
    from_hidden: Mapping[str, np.ndarray]  # gate → W_h h_{t-1} + b_h, (H,)
    pre: Mapping[str, np.ndarray]  # gate → pre-activation, (H,)
    gates: Mapping[str, np.ndarray]  # gate → activation, (H,)
    h: np.ndarray  # (H,) h_t
    c: np.ndarray | None  # (H,) c_t, LSTM only


def sigmoid(a: np.ndarray) -> np.ndarray:
    # tanh form: exact and never overflows, unlike 1 / (1 + exp(-a)) for a ≪ 0.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _parts(w: CellWeights, x: np.ndarray, h: np.ndarray) -> tuple[dict, dict]:
    from_input, from_hidden = {}, {}
    for gate in GATES[w.kind]:
        w_i, w_h, b_i, b_h = w.block(gate)
        from_input[gate] = w_i @ x + b_i  # (H,)
        from_hidden[gate] = w_h @ h + b_h  # (H,)
    return from_input, from_hidden


def rnn_step(w: CellWeights, x: np.ndarray, h: np.ndarray) -> Step:
    """Elman: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    xi, hh = _parts(w, x, h)
    pre = {"h": xi["h"] + hh["h"]}
    h_new = np.tanh(pre["h"])
    return Step(x, h, None, xi, hh, pre, {"h": h_new}, h_new, None)


def lstm_step(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> Step:
    """LSTM: i, f, o = σ(·); g = tanh(·); c_t = f ⊙ c_{t-1} + i ⊙ g; h_t = o ⊙ tanh(c_t)."""
    xi, hh = _parts(w, x, h)
    pre = {gate: xi[gate] + hh[gate] for gate in "ifgo"}
    i, f, o = sigmoid(pre["i"]), sigmoid(pre["f"]), sigmoid(pre["o"])
    g = np.tanh(pre["g"])
    c_new = f * c + i * g  # the forget gate decides how much old memory survives
    h_new = o * np.tanh(c_new)
    return Step(x, h, c, xi, hh, pre, {"i": i, "f": f, "g": g, "o": o}, h_new, c_new)


def gru_step(w: CellWeights, x: np.ndarray, h: np.ndarray) -> Step:
    """GRU (torch's form): r, z = σ(·); n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));
    h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}."""
    xi, hh = _parts(w, x, h)
    r = sigmoid(xi["r"] + hh["r"])
    z = sigmoid(xi["z"] + hh["z"])
    pre = {"r": xi["r"] + hh["r"], "z": xi["z"] + hh["z"], "n": xi["n"] + r * hh["n"]}
    n = np.tanh(pre["n"])
    h_new = (1.0 - z) * n + z * h  # z near 1 keeps the old state: the gradient's shortcut
    return Step(x, h, None, xi, hh, pre, {"r": r, "z": z, "n": n}, h_new, None)


def step(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray | None = None) -> Step:
    """One time step of whichever cell ``w`` is."""
    if w.kind == "lstm":
        return lstm_step(w, x, h, np.zeros_like(h) if c is None else c)
    return rnn_step(w, x, h) if w.kind == "rnn" else gru_step(w, x, h)


@dataclass(frozen=True)
class Trace:
    """A whole sequence unrolled: one Step per time step, starting from h_0 = c_0 = 0."""

    kind: str
    labels: tuple[str, ...]  # one label per time step (the symbol read)
    steps: tuple[Step, ...]

    @functools.cached_property  # every redraw of the stepper reads these
    def h(self) -> np.ndarray:
        return np.stack([s.h for s in self.steps])  # (T, H)

    @functools.cached_property
    def c(self) -> np.ndarray | None:
        return np.stack([s.c for s in self.steps]) if self.kind == "lstm" else None  # (T, H)

    def gate(self, name: str) -> np.ndarray:
        return np.stack([s.gates[name] for s in self.steps])  # (T, H)


def unroll(w: CellWeights, x: np.ndarray, labels: tuple[str, ...] | None = None) -> Trace:
    """Run the cell over x (T, I) from zero state, keeping every intermediate."""
    h = np.zeros(w.hidden_size)
    c = np.zeros(w.hidden_size) if w.kind == "lstm" else None
    steps = []
    for x_t in x:
        s = step(w, x_t, h, c)
        steps.append(s)
        h, c = s.h, s.c
    labels = labels if labels is not None else tuple(str(t + 1) for t in range(len(x)))
    return Trace(w.kind, tuple(labels), tuple(steps))


@dataclass(frozen=True)
class Echo:
    """What the first input left behind: this run's states minus the states of the same
    run with x_1 = 0. Without the subtraction an impulse is hidden by the fixed point the
    biases alone drive the state to."""

    h: np.ndarray  # (T, H) h_t − h_t(x_1 = 0)
    c: np.ndarray | None  # (T, H) the same for c_t, LSTM only


def echo_of_first_input(w: CellWeights, x: np.ndarray) -> Echo:
    """The trace of x_1 in every later state (the zero-input run as the baseline)."""
    without = x.copy()
    without[0] = 0.0
    run, base = unroll(w, x), unroll(w, without)
    return Echo(run.h - base.h, run.c - base.c if w.kind == "lstm" else None)


# What "still holds the first symbol" means, in three bands of the echo left k steps later.
ECHO_BANDS = ("More than half of it", "Between 10 % and half", "Under 10 %")


@dataclass(frozen=True)
class EchoLeft:
    """How much of the first input's echo the memory (c_t for the LSTM, h_t otherwise) keeps
    ``steps_later`` steps after reading it: ‖echo_{1+k}‖ / ‖echo_1‖, and its band."""

    state: str  # "c" or "h"
    steps_later: int
    share: float
    band: str  # one of ECHO_BANDS


def echo_left(echo: Echo, steps_later: int = 5) -> EchoLeft | None:
    """The share of the first input still in the memory ``steps_later`` steps on, or None
    when the sequence is too short (or the first input left no trace at all)."""
    state, values = ("c", echo.c) if echo.c is not None else ("h", echo.h)
    if len(values) <= steps_later:
        return None
    sizes = np.linalg.norm(values, axis=1)
    if sizes[0] == 0.0:
        return None
    share = float(sizes[steps_later] / sizes[0])
    band = ECHO_BANDS[0] if share > 0.5 else ECHO_BANDS[1] if share >= 0.1 else ECHO_BANDS[2]
    return EchoLeft(state, steps_later, share, band)


# --- weights -----------------------------------------------------------------------------

def check_kind(kind: object) -> str:
    if kind not in CELL_KINDS:
        raise ValueError(f"Unknown cell type {kind!r}; choose one of {', '.join(CELL_KINDS)}.")
    return str(kind)


def check_hidden_size(value: object) -> int:
    """Hidden sizes the stepper can show: 1..16. Anything else is refused, not clamped,
    because a silently different network would confuse the student."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("The hidden size must be a whole number.") from None
    if math.isnan(number) or number != int(number) or not 1 <= number <= MAX_HIDDEN:
        raise ValueError(f"The hidden size must be a whole number from 1 to {MAX_HIDDEN} "
                         f"(got {value}); bigger states cannot be read step by step.")
    return int(number)


def torch_cell(w: CellWeights) -> torch.nn.Module:
    """The torch cell (float64) holding exactly these weights: the reference, and what
    autograd differentiates for the gradient norms."""
    import torch

    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[w.kind]
    cell = cls(w.input_size, w.hidden_size).double()
    with torch.no_grad():
        for name, value in (("weight_ih", w.w_ih), ("weight_hh", w.w_hh),
                            ("bias_ih", w.b_ih), ("bias_hh", w.b_hh)):
            getattr(cell, name).copy_(torch.from_numpy(value))
    return cell


def weights_from_torch(kind: str, params: Mapping[str, torch.Tensor], prefix: str = "") -> CellWeights:
    """CellWeights from a torch cell's (or nn.RNN/LSTM/GRU layer's) parameters."""
    suffix = "_l0" if f"{prefix}weight_ih_l0" in params else ""

    def get(name: str) -> np.ndarray:
        return params[f"{prefix}{name}{suffix}"].detach().double().numpy().copy()

    return CellWeights(check_kind(kind), get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))


def random_weights(kind: str, input_size: int, hidden_size: int, seed: int) -> CellWeights:
    """PyTorch's default initialisation U(−1/√H, 1/√H), drawn from a generator of the
    seed in the order of ``cell.parameters()`` (weight_ih, weight_hh, bias_ih, bias_hh):
    the same numbers as ``torch.nn.init.uniform_(p, -k, k, generator=g)`` on a torch cell.
    A generator of our own, because the server is threaded: seeding torch's global one
    would let two students change each other's cells."""
    import torch

    kind, hidden_size = check_kind(kind), check_hidden_size(hidden_size)
    generator = torch.Generator().manual_seed(int(seed))
    blocks = len(GATES[kind]) * hidden_size
    bound = hidden_size ** -0.5
    shapes = ((blocks, input_size), (blocks, hidden_size), (blocks,), (blocks,))
    values = [torch.empty(shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
              for shape in shapes]  # float32 like a torch cell, so the code panel's cell is identical
    return CellWeights(kind, *(v.double().numpy() for v in values))


def spectral_radii(w: CellWeights) -> dict[str, float]:
    """Largest |eigenvalue| of each gate's H×H recurrent block W_h."""
    return {gate: float(np.max(np.abs(np.linalg.eigvals(w.block(gate)[1])))) for gate in GATES[w.kind]}


def edit_weights(w: CellWeights, spectral_radius: float | None = None,
                 forget_bias: float | None = None) -> CellWeights:
    """Rescale every gate's W_h block to the given spectral radius, and (LSTM only) set the
    forget gate's total bias b_if + b_hf to ``forget_bias``."""
    w_hh, b_ih, b_hh = w.w_hh.copy(), w.b_ih.copy(), w.b_hh.copy()
    size = w.hidden_size
    if spectral_radius is not None:
        for k, gate in enumerate(GATES[w.kind]):
            radius = spectral_radii(w)[gate]
            if radius > 1e-12:  # an all-zero block has no direction to scale
                w_hh[k * size:(k + 1) * size] *= spectral_radius / radius
    if forget_bias is not None and w.kind == "lstm":
        f = slice(size, 2 * size)  # torch order i, f, g, o: f is the second block
        b_ih[f], b_hh[f] = forget_bias, 0.0
    return replace(w, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)


def check_edits(spectral_radius: object, forget_bias: object) -> tuple[float, float, str]:
    """Slider values for the edits: NaN is refused, out-of-range values are clamped with a note."""
    radius, note_r = clamp(spectral_radius, 0.0, 3.0, "The spectral radius of W_hh")
    bias, note_b = clamp(forget_bias, -10.0, 10.0, "The forget-gate bias")
    return radius, bias, " ".join(n for n in (note_r, note_b) if n)


# --- inputs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Encoded:
    """A sequence ready for a cell: inputs (T, I) and one label per time step."""

    x: np.ndarray  # (T, I)
    labels: tuple[str, ...]
    vocab: tuple[str, ...]  # the one-hot columns; ("x",) for a sequence of numbers
    # "chars" (one-hot over vocab) or "numbers" (one scalar a step): said, not guessed from
    # the vocabulary, since a text of only "x" has the vocabulary ("x",) too
    mode: str


def display_symbol(ch: str) -> str:
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(ch, ch)


def _check_length(n: int) -> None:
    if n > MAX_STEPS:
        raise ValueError(f"The sequence has {n:,} symbols; the stepper takes at most {MAX_STEPS}. "
                         "Please shorten it.")


def encode_chars(text: object, vocab: tuple[str, ...] | None = None) -> Encoded:
    """One-hot characters. Without a vocabulary, the distinct characters in sorted order
    are the columns; with one (a trained cell's), other characters are refused."""
    text = clean_text(text, max_chars=20_000, name="sequence").strip("\n")
    _check_length(len(text))
    if vocab is None:
        vocab = tuple(sorted(set(text)))
        if len(vocab) > MAX_INPUT:
            raise ValueError(f"The sequence has {len(vocab)} different characters; at most "
                             f"{MAX_INPUT} fit in a readable one-hot input.")
    unknown = sorted(set(text) - set(vocab))
    if unknown:
        raise ValueError(f"These cells were trained on the symbols {' '.join(vocab)} only; "
                         f"remove {' '.join(map(display_symbol, unknown[:10]))}.")
    eye = np.eye(len(vocab))
    x = np.stack([eye[vocab.index(ch)] for ch in text])  # (T, I)
    return Encoded(x, tuple(display_symbol(ch) for ch in text), tuple(vocab), "chars")


def encode_numbers(text: object) -> Encoded:
    """A comma- or space-separated list of numbers, one scalar input per time step."""
    text = clean_text(text, max_chars=20_000, name="sequence")
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    _check_length(len(parts))
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"'{part[:20]}' is not a number. Type numbers separated by commas, "
                             "e.g. 1, 0, 0, 0.") from None
        if not math.isfinite(value):
            raise ValueError(f"'{part[:20]}' is not a finite number.")
        if abs(value) > MAX_ABS_INPUT:
            raise ValueError(f"{value:g} is too large: keep inputs between −{MAX_ABS_INPUT:g} and "
                             f"{MAX_ABS_INPUT:g} (larger values only saturate the gates).")
        values.append(value)
    return Encoded(np.array(values).reshape(-1, 1), tuple(f"{v:g}" for v in values), ("x",), "numbers")


# --- bidirectional -------------------------------------------------------------------------

@dataclass(frozen=True)
class Bidirectional:
    """One cell reads left to right, another right to left (Schuster & Paliwal 1997)."""

    forward: Trace
    backward: Trace  # steps in the order the backward cell read them (last symbol first)

    @property
    def h_backward(self) -> np.ndarray:
        """(T, H) re-aligned so row t is the backward state after reading x_T … x_t."""
        return self.backward.h[::-1]

    @property
    def concat(self) -> np.ndarray:
        return np.concatenate([self.forward.h, self.h_backward], axis=1)  # (T, 2H)


def bidirectional(forward: CellWeights, backward: CellWeights, enc: Encoded) -> Bidirectional:
    return Bidirectional(unroll(forward, enc.x, enc.labels),
                         unroll(backward, enc.x[::-1], enc.labels[::-1]))


# --- gradients -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepJacobians:
    """How one step's new state depends on the old one (H×H each). For the RNN and the GRU
    the state is h alone; the LSTM's state is (h, c)."""

    dh_dh: np.ndarray  # ∂h_t/∂h_{t-1}
    dh_dc: np.ndarray | None = None  # ∂h_t/∂c_{t-1}
    dc_dh: np.ndarray | None = None  # ∂c_t/∂h_{t-1}
    dc_dc: np.ndarray | None = None  # ∂c_t/∂c_{t-1} = diag(f_t): the constant error carousel


def step_jacobians(w: CellWeights, s: Step) -> StepJacobians:
    """The chain rule through one step, written out (rows scale by each unit's derivative)."""
    w_h = {gate: w.block(gate)[1] for gate in GATES[w.kind]}
    g = s.gates

    def through_sigmoid(gate: str) -> np.ndarray:  # ∂σ(pre)/∂h_{t-1} = diag(σ(1−σ)) W_h
        return (g[gate] * (1 - g[gate]))[:, None] * w_h[gate]

    if w.kind == "rnn":
        return StepJacobians((1 - s.h ** 2)[:, None] * w_h["h"])  # diag(1 − h_t²) W_hh
    if w.kind == "gru":
        dr, dz = through_sigmoid("r"), through_sigmoid("z")
        dn = (1 - g["n"] ** 2)[:, None] * (s.from_hidden["n"][:, None] * dr + g["r"][:, None] * w_h["n"])
        return StepJacobians((1 - g["z"])[:, None] * dn + (s.h_prev - g["n"])[:, None] * dz + np.diag(g["z"]))
    di, df, do = through_sigmoid("i"), through_sigmoid("f"), through_sigmoid("o")
    dg = (1 - g["g"] ** 2)[:, None] * w_h["g"]
    dc_dh = s.c_prev[:, None] * df + g["g"][:, None] * di + g["i"][:, None] * dg
    tanh_c = np.tanh(s.c)
    out = g["o"] * (1 - tanh_c ** 2)  # ∂h_t/∂c_t, diagonal
    return StepJacobians(dh_dh=tanh_c[:, None] * do + out[:, None] * dc_dh,
                         dh_dc=np.diag(out * g["f"]), dc_dh=dc_dh, dc_dc=np.diag(g["f"]))


@dataclass(frozen=True)
class GradientNorms:
    """How much the last states still depend on each earlier one: spectral norms (largest
    singular value) for t = 1 … T. The LSTM has two more paths, through its cell state;
    they are the *total* derivatives with respect to c_t (also through h_t = o_t ⊙ tanh(c_t)),
    which is what autograd gives for the tensors ``nn.LSTMCell`` returns."""

    h_from_h: np.ndarray  # ‖∂h_T/∂h_t‖, the last one is 1
    h_from_c: np.ndarray | None = None  # ‖∂h_T/∂c_t‖, LSTM only
    c_from_c: np.ndarray | None = None  # ‖∂c_T/∂c_t‖, LSTM only: the constant error carousel


def gradient_norms(w: CellWeights, x: np.ndarray) -> GradientNorms:
    """Backpropagation through time by hand: starting at t = T, multiply by one step's
    Jacobian per step back. The LSTM carries the derivatives with respect to both parts of
    its state (h_t, c_t), once for the target h_T and once for the target c_T."""
    trace = unroll(w, x)
    size = w.hidden_size
    eye, zero = np.eye(size), np.zeros((size, size))
    # (∂target/∂h_t, ∂target/∂c_t) with the state (h_t, c_t) as the step's two inputs
    paths = {"h": (eye, zero), "c": (zero, eye)}
    norms: dict[str, list[float]] = {"h_from_h": [], "h_from_c": [], "c_from_c": []}
    for t in range(len(trace.steps) - 1, -1, -1):  # t = T … 1 (0-based index)
        if w.kind == "lstm":
            s = trace.steps[t]
            dh_dc_now = np.diag(s.gates["o"] * (1 - np.tanh(s.c) ** 2))  # h_t = o ⊙ tanh(c_t)
            total_c = {name: d_c + d_h @ dh_dc_now for name, (d_h, d_c) in paths.items()}
            norms["h_from_c"].append(float(np.linalg.norm(total_c["h"], ord=2)))
            norms["c_from_c"].append(float(np.linalg.norm(total_c["c"], ord=2)))
        norms["h_from_h"].append(float(np.linalg.norm(paths["h"][0], ord=2)))
        if t == 0:
            break
        jac = step_jacobians(w, trace.steps[t])  # links state t−1 to state t
        if w.kind == "lstm":
            paths = {name: (d_h @ jac.dh_dh + d_c @ jac.dc_dh, d_h @ jac.dh_dc + d_c @ jac.dc_dc)
                     for name, (d_h, d_c) in paths.items()}
        else:
            paths["h"] = (paths["h"][0] @ jac.dh_dh, zero)
    lstm = w.kind == "lstm"
    return GradientNorms(np.array(norms["h_from_h"][::-1]),
                         np.array(norms["h_from_c"][::-1]) if lstm else None,
                         np.array(norms["c_from_c"][::-1]) if lstm else None)
