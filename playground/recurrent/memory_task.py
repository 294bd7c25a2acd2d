"""The long-memory toy task: read a signal letter, then N random distractor digits, and
say at the end which letter came first.

The answer depends only on the first time step, so the error signal must travel back N
steps. In a plain RNN it shrinks (or blows up) by a factor at every step (Bengio, Simard &
Frasconi 1994; Pascanu, Mikolov & Bengio 2013); the LSTM's additive cell state keeps it
(Hochreiter & Schmidhuber 1997, whose experiments used tasks of this kind). Training an
RNN and an LSTM side by side on the same batches shows the difference in seconds.

A curriculum makes the race fair to the LSTM whatever the seed: the sequences start short
and grow to N over the first part of training (Bengio et al. 2009, "Curriculum learning").
Straight at N = 40 the LSTM too learns only for lucky seeds: a gradient that must find one
letter among 40 random digits is mostly noise until the cell already keeps something.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np
import torch

from playground.recurrent.cells import CELL_KINDS, CellWeights, check_hidden_size, weights_from_torch
from playground.service.validate import clamp

SIGNALS = "ABCD"  # the class to remember: chance is 1 / 4
DISTRACTORS = "0123"  # noise to ignore
VOCAB = SIGNALS + DISTRACTORS
MAX_DISTRACTORS = 100
MAX_TRAIN_STEPS = 3000
MAX_TRAIN_SECONDS = 60.0


@dataclass(frozen=True)
class MemoryConfig:
    distractors: int = 40  # N: digits between the letter and the answer
    hidden_size: int = 8  # units per cell
    kinds: tuple[str, ...] = ("rnn", "lstm")  # trained side by side on the same batches
    batch_size: int = 32
    learning_rate: float = 0.01  # Adam; 0.03 made the LSTM's learning depend on the seed
    max_steps: int = 300  # optimisation steps per cell
    curriculum: float = 0.5  # N grows from 2 to its value over this fraction of the steps (0: off)
    max_seconds: float = 30.0  # wall-clock bound for the whole run
    snapshot_every: int = 10  # steps between snapshots (evaluate and report)
    eval_size: int = 256  # held-out sequences for the accuracy
    min_distractors: int | None = None  # if set, each batch draws N in [min, distractors]


def check_config(distractors: object, hidden_size: object, max_steps: object,
                 max_seconds: object = 30.0) -> tuple[MemoryConfig, str]:
    """A MemoryConfig from student input: NaN refused, out-of-range values clamped (note)."""
    n, note_n = clamp(distractors, 1, MAX_DISTRACTORS, "The number of distractors N", integer=True)
    size = check_hidden_size(hidden_size)  # ≤ 16: the trained cells must fit the stepper
    steps, note_s = clamp(max_steps, 10, MAX_TRAIN_STEPS, "The number of training steps", integer=True)
    seconds, note_t = clamp(max_seconds, 1, MAX_TRAIN_SECONDS, "The time limit (s)")
    note = " ".join(x for x in (note_n, note_s, note_t) if x)
    return MemoryConfig(distractors=int(n), hidden_size=int(size), max_steps=int(steps),
                        max_seconds=float(seconds)), note


def make_batch(batch_size: int, distractors: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, 1 + N, |VOCAB|) one-hot, y (B,) the index of the first letter in SIGNALS."""
    y = torch.randint(len(SIGNALS), (batch_size,), generator=generator)
    noise = torch.randint(len(DISTRACTORS), (batch_size, distractors), generator=generator)
    symbols = torch.cat([y[:, None], len(SIGNALS) + noise], dim=1)  # (B, T)
    return torch.nn.functional.one_hot(symbols, len(VOCAB)).float(), y


def example_sequence(distractors: int, seed: int = 0) -> str:
    """A readable instance of the task, e.g. 'C0312…'."""
    rng = np.random.default_rng(seed)
    return SIGNALS[rng.integers(len(SIGNALS))] + "".join(
        DISTRACTORS[k] for k in rng.integers(len(DISTRACTORS), size=distractors))


class MemoryNet(torch.nn.Module):
    """A one-layer recurrent net reading the sequence, and a linear read-out of h_T."""

    def __init__(self, kind: str, hidden_size: int, generator: torch.Generator) -> None:
        super().__init__()
        layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        self.kind = kind
        with torch.device("meta"):  # no values yet: torch's init would draw from the global RNG
            self.cell = layer(len(VOCAB), hidden_size, batch_first=True)
            self.readout = torch.nn.Linear(hidden_size, len(SIGNALS))
        self.to_empty(device="cpu")
        bound = hidden_size ** -0.5  # torch's default U(−1/√H, 1/√H), from the run's generator
        for parameter in self.parameters():
            torch.nn.init.uniform_(parameter, -bound, bound, generator=generator)
        if kind == "lstm":
            # Start by remembering: total forget bias 3, σ(3) ≈ 0.95 (Gers et al. 2000 and
            # Jozefowicz et al. 2015 argue for a positive forget bias).
            with torch.no_grad():
                for bias in (self.cell.bias_ih_l0, self.cell.bias_hh_l0):
                    bias[hidden_size:2 * hidden_size] = 1.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.cell(x)  # (B, T, H)
        return self.readout(states[:, -1])  # (B, |SIGNALS|) logits from h_T

    def weights(self) -> CellWeights:
        return weights_from_torch(self.kind, dict(self.cell.named_parameters()))


@dataclass(frozen=True)
class Readout:
    """The trained linear layer from h_t to one score per signal letter."""

    weight: np.ndarray  # (|SIGNALS|, H)
    bias: np.ndarray  # (|SIGNALS|,)

    def probabilities(self, h: np.ndarray) -> np.ndarray:
        """softmax(W h + b) for each row of h (T, H) → (T, |SIGNALS|)."""
        logits = h @ self.weight.T + self.bias
        logits -= logits.max(axis=-1, keepdims=True)  # stable softmax
        e = np.exp(logits)
        return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class TrainedCell:
    """A cell and its read-out, as numbers (what the stepper loads)."""

    weights: CellWeights
    readout: Readout


def trained_cell(net: MemoryNet) -> TrainedCell:
    return TrainedCell(net.weights(), Readout(net.readout.weight.detach().double().numpy().copy(),
                                              net.readout.bias.detach().double().numpy().copy()))


CELL_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def cells_to_state(cells: Mapping[str, TrainedCell]) -> dict[str, torch.Tensor]:
    """Flat float32 tensors "<kind>.weight_ih", …, "<kind>.readout.bias" for safetensors."""
    state = {}
    for kind, cell in cells.items():
        w = cell.weights
        for name, value in zip(CELL_TENSORS, (w.w_ih, w.w_hh, w.b_ih, w.b_hh)):
            state[f"{kind}.{name}"] = torch.tensor(value, dtype=torch.float32)
        state[f"{kind}.readout.weight"] = torch.tensor(cell.readout.weight, dtype=torch.float32)
        state[f"{kind}.readout.bias"] = torch.tensor(cell.readout.bias, dtype=torch.float32)
    return state


def cells_from_state(state: Mapping[str, torch.Tensor]) -> dict[str, TrainedCell]:
    """The inverse of cells_to_state, for every kind present."""
    cells = {}
    for kind in CELL_KINDS:
        if f"{kind}.weight_ih" not in state:
            continue
        weights = weights_from_torch(kind, state, prefix=f"{kind}.")
        readout = Readout(state[f"{kind}.readout.weight"].double().numpy().copy(),
                          state[f"{kind}.readout.bias"].double().numpy().copy())
        cells[kind] = TrainedCell(weights, readout)
    return cells


def net_from_cell(kind: str, cell: TrainedCell) -> MemoryNet:
    """A MemoryNet holding a trained cell, e.g. to measure its accuracy in batch."""
    net = MemoryNet(kind, cell.weights.hidden_size, torch.Generator())
    w = cell.weights
    with torch.no_grad():
        for name, value in zip(CELL_TENSORS, (w.w_ih, w.w_hh, w.b_ih, w.b_hh)):
            getattr(net.cell, f"{name}_l0").copy_(torch.from_numpy(value))
        net.readout.weight.copy_(torch.from_numpy(cell.readout.weight))
        net.readout.bias.copy_(torch.from_numpy(cell.readout.bias))
    return net


@dataclass(frozen=True)
class RaceSnapshot:
    """Curves so far for every cell kind, and the cells as they are now."""

    step: int
    seconds: float
    steps: tuple[int, ...]  # x axis of the curves
    loss: Mapping[str, tuple[float, ...]]  # kind → training loss at each snapshot
    accuracy: Mapping[str, tuple[float, ...]]  # kind → held-out accuracy at each snapshot
    cells: Mapping[str, TrainedCell]
    done: bool
    stopped_by: str  # "", "steps" or "time"
    seed: int
    distractors: int  # N of the task (and of the held-out sequences)
    train_length: int  # N of this step's training batch (smaller while the curriculum grows)


def train_length(cfg: MemoryConfig, step: int, generator: torch.Generator) -> int:
    """N for the batch of this step (1-based): grown by the curriculum, or drawn in
    [min_distractors, distractors], or just the configured N."""
    if cfg.curriculum > 0:
        grown = int(cfg.distractors * step / (cfg.max_steps * cfg.curriculum))
        return min(cfg.distractors, max(2, grown))
    if cfg.min_distractors is None:
        return cfg.distractors
    return int(torch.randint(cfg.min_distractors, cfg.distractors + 1, (1,), generator=generator))


def train_step(net: MemoryNet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor) -> float:
    """One Adam step on cross-entropy; gradients clipped so an exploding RNN stays finite."""
    loss = torch.nn.functional.cross_entropy(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()
    return loss.item()


@torch.no_grad()
def accuracy(net: MemoryNet, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((net(x).argmax(dim=-1) == y).float().mean())


@dataclass(frozen=True)
class Score:
    """A trained cell measured on fresh sequences: overall and per first letter."""

    distractors: int
    sequences: int
    accuracy: float
    per_letter: Mapping[str, float]  # letter → accuracy on the sequences that start with it


@torch.no_grad()
def score(cell: TrainedCell, kind: str, distractors: int, sequences: int = 1000, seed: int = 2024) -> Score:
    """Accuracy of a trained cell on ``sequences`` fresh sequences of N = ``distractors``."""
    x, y = make_batch(sequences, distractors, torch.Generator().manual_seed(seed))
    right = net_from_cell(kind, cell)(x).argmax(dim=-1) == y
    per_letter = {letter: float(right[y == k].float().mean()) for k, letter in enumerate(SIGNALS)}
    return Score(distractors, sequences, float(right.float().mean()), per_letter)


def train_race(cfg: MemoryConfig, seed: int) -> Iterator[RaceSnapshot]:
    """Train one net per kind on the same batches; yield a snapshot every few steps.
    Bounded by cfg.max_steps and cfg.max_seconds; the same seed gives the same run."""
    for kind in cfg.kinds:
        if kind not in CELL_KINDS:
            raise ValueError(f"Unknown cell type {kind!r}.")
    nets, optimizers = {}, {}
    for kind in cfg.kinds:  # the same seed for every kind: a fair race
        nets[kind] = MemoryNet(kind, cfg.hidden_size, torch.Generator().manual_seed(seed))
        optimizers[kind] = torch.optim.Adam(nets[kind].parameters(), lr=cfg.learning_rate)
    data = torch.Generator().manual_seed(seed)
    eval_x, eval_y = make_batch(cfg.eval_size, cfg.distractors, torch.Generator().manual_seed(seed + 1))
    steps: list[int] = []
    loss: dict[str, list[float]] = {k: [] for k in cfg.kinds}
    acc: dict[str, list[float]] = {k: [] for k in cfg.kinds}
    start = time.perf_counter()
    for n in range(1, cfg.max_steps + 1):
        length = train_length(cfg, n, data)
        x, y = make_batch(cfg.batch_size, length, data)
        step_loss = {kind: train_step(nets[kind], optimizers[kind], x, y) for kind in cfg.kinds}
        seconds = time.perf_counter() - start
        stopped_by = "steps" if n == cfg.max_steps else "time" if seconds >= cfg.max_seconds else ""
        if n % cfg.snapshot_every == 0 or stopped_by:
            steps.append(n)
            for kind in cfg.kinds:
                loss[kind].append(step_loss[kind])
                acc[kind].append(accuracy(nets[kind], eval_x, eval_y))
            yield RaceSnapshot(
                step=n, seconds=seconds, steps=tuple(steps),
                loss={k: tuple(v) for k, v in loss.items()},
                accuracy={k: tuple(v) for k, v in acc.items()},
                cells={k: trained_cell(net) for k, net in nets.items()},
                done=bool(stopped_by), stopped_by=stopped_by, seed=seed,
                distractors=cfg.distractors, train_length=length)
        if stopped_by:
            return


@dataclass(frozen=True)
class FirstToTarget:
    """The first snapshot step at which each cell's held-out accuracy reached ``target``."""

    target: float
    reached: Mapping[str, int | None]  # kind → step, or None if it never did
    steps_run: int
    winner: str  # a kind, "tie" (the same snapshot) or "neither"


def first_to_target(snap: RaceSnapshot, target: float = 0.9) -> FirstToTarget:
    """Read the race's snapshots: which cell reached ``target`` accuracy first."""
    reached = {kind: next((step for step, acc in zip(snap.steps, curve) if acc >= target), None)
               for kind, curve in snap.accuracy.items()}
    steps = {kind: step for kind, step in reached.items() if step is not None}
    if not steps:
        return FirstToTarget(target, reached, snap.step, "neither")
    winners = [kind for kind, step in steps.items() if step == min(steps.values())]
    return FirstToTarget(target, reached, snap.step, winners[0] if len(winners) == 1 else "tie")
