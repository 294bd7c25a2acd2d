"""Encoder–decoder (seq2seq) with and without additive attention.

- Sutskever, Vinyals & Le 2014, "Sequence to Sequence Learning with Neural Networks"
  (https://arxiv.org/abs/1409.3215): an encoder RNN reads the input, a decoder RNN writes
  the output from a single fixed-size vector.
- Cho et al. 2014, "Learning Phrase Representations using RNN Encoder–Decoder"
  (https://arxiv.org/abs/1406.1078): the GRU, and the fixed context vector c fed to the
  decoder at every step.
- Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to Align
  and Translate" (https://arxiv.org/abs/1409.0473): a bidirectional encoder keeps one
  annotation h_j per input token; at each output step t the decoder scores them,
  e_tj = v^T tanh(W s_{t-1} + U h_j), turns the scores into weights a_t = softmax(e_t),
  and reads the context c_t = sum_j a_tj h_j. The weights a_tj are the alignment.

Both variants here share the encoder and the decoder GRU; the only difference is where
the context vector comes from: the encoder's final state (fixed) or attention (per step).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from playground.seq2seq.data import BOS, EOS, PAD, Task, make_pairs


@dataclass(frozen=True)
class Seq2SeqConfig:
    src_vocab: int  # input vocabulary size, specials included
    tgt_vocab: int  # output vocabulary size, specials included
    attention: bool = True  # Bahdanau attention (True) or one fixed context vector (False)
    emb: int = 24  # character embedding size
    enc_hidden: int = 48  # per direction: annotations h_j have 2 * enc_hidden numbers
    dec_hidden: int = 96  # decoder state s_t
    attn_dim: int = 48  # size of the space where W s and U h are added


@dataclass(frozen=True)
class Memory:
    """What the encoder hands the decoder for one batch."""

    annotations: torch.Tensor  # (B, T, 2He) one vector h_j per input token
    keys: torch.Tensor  # (B, T, A) U h_j, computed once per input, not once per step
    mask: torch.Tensor  # (B, T) True at real tokens, False at padding
    final: torch.Tensor  # (B, 2He) [forward state after the last token; backward after the first]


@dataclass(frozen=True)
class DecoderStep:
    logits: torch.Tensor  # (B, V) scores of the next output token
    state: torch.Tensor  # (B, Hd) s_t
    context: torch.Tensor  # (B, 2He) c_t
    weights: torch.Tensor | None  # (B, T) a_t, a distribution over input tokens; None without attention


class AdditiveAttention(nn.Module):
    """Bahdanau et al. 2015, eq. 6: e_tj = v^T tanh(W s_{t-1} + U h_j)."""

    def __init__(self, dec_hidden: int, annotation: int, attn_dim: int) -> None:
        super().__init__()
        self.W = nn.Linear(dec_hidden, attn_dim, bias=False)
        self.U = nn.Linear(annotation, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, state: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.v(torch.tanh(self.W(state).unsqueeze(1) + memory.keys)).squeeze(-1)  # (B, T)
        # Padding gets -inf, so softmax gives it exactly 0 and the real tokens sum to 1.
        scores = scores.masked_fill(~memory.mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T)
        context = torch.bmm(weights.unsqueeze(1), memory.annotations).squeeze(1)  # (B, 2He)
        return context, weights


class Seq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        annotation = 2 * cfg.enc_hidden
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.emb, padding_idx=PAD)
        self.encoder = nn.GRU(cfg.emb, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(annotation, cfg.dec_hidden)  # s_0 = tanh(W_s final)
        self.attention = AdditiveAttention(cfg.dec_hidden, annotation, cfg.attn_dim) if cfg.attention else None
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.emb, padding_idx=PAD)
        self.decoder = nn.GRUCell(cfg.emb + annotation, cfg.dec_hidden)
        # The output reads the new state, the context and the previous token (as in the paper).
        self.out = nn.Linear(cfg.dec_hidden + annotation + cfg.emb, cfg.tgt_vocab)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> Memory:
        """src (B, T) padded ids, lengths (B,) → the annotations and the final state."""
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        out, h_n = self.encoder(packed)  # h_n (2, B, He): forward and backward final states
        annotations, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        keys = self.attention.U(annotations) if self.attention is not None else annotations
        return Memory(annotations, keys, mask, torch.cat([h_n[0], h_n[1]], dim=-1))

    def start(self, memory: Memory) -> torch.Tensor:
        return torch.tanh(self.init_state(memory.final))  # (B, Hd)

    def step(self, prev: torch.Tensor, state: torch.Tensor, memory: Memory) -> DecoderStep:
        """One output step: previous token ids (B,), s_{t-1} (B, Hd) → scores of the next token."""
        if self.attention is not None:
            context, weights = self.attention(state, memory)
        else:
            context, weights = memory.final, None  # Cho et al. 2014: the same c at every step
        emb = self.tgt_embed(prev)  # (B, E)
        new_state = self.decoder(torch.cat([emb, context], dim=-1), state)
        logits = self.out(torch.cat([new_state, context, emb], dim=-1))
        return DecoderStep(logits, new_state, context, weights)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: tgt_in (B, L) starts with <s>. Returns logits (B, L, V) and the
        attention weights (B, L, T) (None without attention)."""
        memory = self.encode(src, lengths)
        state = self.start(memory)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            out = self.step(tgt_in[:, t], state, memory)
            state = out.state
            logits.append(out.logits)
            weights.append(out.weights)
        attn = torch.stack(weights, dim=1) if self.attention is not None else None
        return torch.stack(logits, dim=1), attn


def init_weights(model: nn.Module, seed: int) -> None:
    """Uniform(-1/sqrt(fan), 1/sqrt(fan)) from a private generator: the same seed gives the
    same weights even when other threads use torch's global random state."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            bound = 1.0 / math.sqrt(param.shape[-1]) if param.dim() > 1 else 0.1
            param.uniform_(-bound, bound, generator=gen)
            if "embed" in name:
                param[PAD].zero_()


def new_model(task: Task, attention: bool, seed: int, **sizes: int) -> Seq2Seq:
    model = Seq2Seq(Seq2SeqConfig(task.src.size, task.tgt.size, attention, **sizes))
    init_weights(model, seed)
    return model


# --- batches --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    src: torch.Tensor  # (B, T) input ids, padded
    lengths: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, L) <s> y_1 .. y_n (padded)
    tgt_out: torch.Tensor  # (B, L) y_1 .. y_n </s> (padded)


def _pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


def make_batch(task: Task, pairs: list[tuple[str, str]]) -> Batch:
    src = [task.src.encode(s) for s, _ in pairs]
    tgt = [task.tgt.encode(t) for _, t in pairs]
    return Batch(_pad(src), torch.tensor([len(s) for s in src]),
                 _pad([[BOS] + t for t in tgt]), _pad([t + [EOS] for t in tgt]))


# --- decoding ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Beam:
    """One hypothesis kept by beam search."""

    tokens: str  # the output so far (specials removed)
    logprob: float  # sum of log-probabilities of its tokens
    finished: bool  # it has emitted </s>


@dataclass(frozen=True)
class StepView:
    """What the chosen hypothesis did at one output step (for the step-by-step view)."""

    token: str  # emitted token ("</s>" at the end)
    prob: float  # its probability
    weights: np.ndarray | None  # (T,) attention over the input tokens; None without attention
    context: np.ndarray  # (2He,) the context vector c_t the decoder read
    top: tuple[tuple[str, float], ...]  # the most likely tokens at this step


@dataclass(frozen=True)
class Decoding:
    source: str
    output: str  # the best hypothesis, specials removed
    steps: tuple[StepView, ...]  # one per emitted token of the best hypothesis (incl. </s>)
    beams: tuple[tuple[Beam, ...], ...]  # the beams alive after each step, best first
    width: int  # 1 = greedy

    @property
    def alignment(self) -> np.ndarray | None:
        """(output steps, input tokens) attention matrix; None without attention."""
        if not self.steps or self.steps[0].weights is None:
            return None
        return np.stack([s.weights for s in self.steps])


@dataclass(frozen=True)
class _Hyp:
    ids: tuple[int, ...]
    logprob: float
    state: torch.Tensor  # (1, Hd)
    views: tuple[StepView, ...]

    @property
    def finished(self) -> bool:
        return bool(self.ids) and self.ids[-1] == EOS


@torch.no_grad()
def beam_search(model: Seq2Seq, task: Task, source: str, width: int = 1, top_k: int = 3) -> Decoding:
    """Beam search of the given width over the output (width 1 is greedy decoding).

    Scores are summed log-probabilities; a hypothesis that emitted </s> stays in the beam
    unchanged, and the search stops when all beams are finished or at max_out + 1 tokens.
    """
    model.eval()
    batch = make_batch(task, [(source, "")])
    memory = model.encode(batch.src, batch.lengths)
    beams = [_Hyp((), 0.0, model.start(memory), ())]
    history = []
    for _ in range(task.max_out + 1):
        candidates = [h for h in beams if h.finished]
        for hyp in (h for h in beams if not h.finished):
            prev = torch.tensor([hyp.ids[-1] if hyp.ids else BOS])
            out = model.step(prev, hyp.state, memory)
            logp = F.log_softmax(out.logits[0], dim=-1)
            logp[PAD] = logp[BOS] = float("-inf")  # never emitted
            best = torch.topk(logp, min(max(width, top_k), logp.numel() - 2))
            top = tuple((task.tgt.token(int(i)), float(logp[i].exp())) for i in best.indices[:top_k])
            weights = out.weights[0].numpy().copy() if out.weights is not None else None
            for lp, idx in zip(best.values[:width], best.indices[:width]):
                view = StepView(task.tgt.token(int(idx)), float(lp.exp()), weights,
                                out.context[0].numpy().copy(), top)
                candidates.append(_Hyp(hyp.ids + (int(idx),), hyp.logprob + float(lp), out.state,
                                       hyp.views + (view,)))
        beams = sorted(candidates, key=lambda h: -h.logprob)[:width]
        history.append(tuple(Beam(task.tgt.decode(list(h.ids)), h.logprob, h.finished) for h in beams))
        if all(h.finished for h in beams):
            break
    best = beams[0]
    return Decoding(source, task.tgt.decode(list(best.ids)), best.views, tuple(history), width)


@torch.no_grad()
def greedy_batch(model: Seq2Seq, task: Task, sources: list[str]) -> list[str]:
    """Greedy decoding of many inputs at once (for accuracy measurements)."""
    model.eval()
    batch = make_batch(task, [(s, "") for s in sources])
    memory = model.encode(batch.src, batch.lengths)
    state = model.start(memory)
    prev = torch.full((len(sources),), BOS, dtype=torch.long)
    outputs = []
    for _ in range(task.max_out + 1):
        out = model.step(prev, state, memory)
        prev, state = out.logits.argmax(-1), out.state
        outputs.append(prev)
    ids = torch.stack(outputs, dim=1).tolist()
    return [task.tgt.decode(row) for row in ids]


def accuracy(model: Seq2Seq, task: Task, pairs: list[tuple[str, str]]) -> float:
    """Fraction of inputs whose whole output is exactly right (greedy decoding)."""
    if not pairs:
        return float("nan")
    predicted = greedy_batch(model, task, [s for s, _ in pairs])
    return sum(p == t for p, (_, t) in zip(predicted, pairs)) / len(pairs)


@dataclass(frozen=True)
class LengthAccuracy:
    lengths: tuple[int, ...]  # input lengths (characters)
    accuracy: tuple[float, ...]  # exact-match accuracy at each length
    counts: tuple[int, ...]  # how many test inputs had that length


def accuracy_by_length(model: Seq2Seq, task: Task, n: int = 1000, seed: int = 12345) -> LengthAccuracy:
    """Exact-match accuracy on n freshly generated test pairs, grouped by input length.
    Tasks whose generator takes a length get n / (number of lengths) pairs per length."""
    span = range(task.min_len, task.max_len + 1)
    if task.name == "dates":
        pairs = make_pairs(task, n, seed)
    else:
        per = max(1, n // len(span))
        pairs = [p for k in span for p in make_pairs(task, per, seed + k, length=k)]
    predicted = greedy_batch(model, task, [s for s, _ in pairs])
    hits: dict[int, list[bool]] = {}
    for (src, tgt), out in zip(pairs, predicted):
        hits.setdefault(len(src), []).append(out == tgt)
    lengths = tuple(sorted(hits))
    return LengthAccuracy(lengths, tuple(float(np.mean(hits[k])) for k in lengths),
                          tuple(len(hits[k]) for k in lengths))


# --- training -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    clip: float = 1.0  # gradient-norm clipping: RNN gradients occasionally explode
    snapshot_every: int = 50
    max_seconds: float = float("inf")  # stop early (the live demo is bounded in time)
    probe: str = ""  # an input whose alignment is recorded in every snapshot


@dataclass(frozen=True)
class TrainSnapshot:
    step: int
    loss: float  # mean cross-entropy per output token on this step's batch
    token_accuracy: float  # fraction of output tokens right under teacher forcing
    seconds: float
    probe_output: str  # greedy output for cfg.probe
    probe_tokens: tuple[str, ...]  # the tokens it emitted, "</s>" included when it ended
    probe_alignment: np.ndarray | None  # (output steps, input tokens); None without attention
    done: bool


def loss_and_accuracy(model: Seq2Seq, batch: Batch) -> tuple[torch.Tensor, float]:
    """Cross-entropy per output token under teacher forcing, and the fraction right."""
    logits, _ = model(batch.src, batch.lengths, batch.tgt_in)  # (B, L, V)
    loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
    real = batch.tgt_out != PAD
    right = (logits.detach().argmax(-1) == batch.tgt_out) & real
    return loss, (right.sum() / real.sum()).item()


@torch.no_grad()
def evaluate(model: Seq2Seq, batch: Batch) -> tuple[float, float]:
    model.eval()
    loss, tok_acc = loss_and_accuracy(model, batch)
    return loss.item(), tok_acc


def train_step(model: Seq2Seq, opt: torch.optim.Optimizer, batch: Batch, clip: float) -> tuple[float, float]:
    model.train()
    loss, tok_acc = loss_and_accuracy(model, batch)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item(), tok_acc


def train(model: Seq2Seq, task: Task, cfg: TrainConfig, seed: int) -> Iterator[TrainSnapshot]:
    """Train on freshly generated batches, yielding a snapshot of the untrained model
    (step 0), then every cfg.snapshot_every steps and at the end. The model is updated in place."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / max(1, cfg.steps))
    probe = cfg.probe or task.example
    start = time.perf_counter()

    def snapshot(step: int, loss: float, tok_acc: float, done: bool) -> TrainSnapshot:
        decoding = beam_search(model, task, probe, width=1)
        return TrainSnapshot(step, loss, tok_acc, time.perf_counter() - start, decoding.output,
                             tuple(s.token for s in decoding.steps), decoding.alignment, done)

    yield snapshot(0, *evaluate(model, batch_for(task, cfg.batch_size, seed, 1)), False)  # untrained
    for step in range(1, cfg.steps + 1):
        loss, tok_acc = train_step(model, opt, batch_for(task, cfg.batch_size, seed, step), cfg.clip)
        sched.step()
        done = step == cfg.steps or time.perf_counter() - start >= cfg.max_seconds
        if step % cfg.snapshot_every == 0 or done:
            yield snapshot(step, loss, tok_acc, done)
        if done:
            return


def batch_for(task: Task, size: int, seed: int, step: int) -> Batch:
    """Training batch number `step` of a run: fresh pairs, fixed by (seed, step)."""
    return make_batch(task, make_pairs(task, size, seed * 1_000_003 + step))


def config_dict(model: Seq2Seq) -> dict:
    return {k: getattr(model.cfg, k) for k in model.cfg.__dataclass_fields__}


def from_state(state: dict[str, torch.Tensor], config: dict) -> Seq2Seq:
    """Rebuild a shipped model from its state dict and the model part of config.json."""
    fields = Seq2SeqConfig.__dataclass_fields__
    model = Seq2Seq(Seq2SeqConfig(**{k: v for k, v in config["model"].items() if k in fields}))
    model.load_state_dict(state)
    return model.eval()

