"""Attention, from scratch and inside a real transformer.

Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need",
https://arxiv.org/abs/1706.03762):

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Multi-head attention runs h of these side by side on different learned projections
Q = X W_Q, K = X W_K, V = X W_V, concatenates the h outputs and mixes them with W_O.

The second half reads the attention weights of a real pretrained model (BERT-style
encoders, Devlin et al. 2019; GPT-style decoders) from one forward pass cached per
(model, text) in the model service, and summarises heads the way Clark et al. 2019
("What Does BERT Look At?") do: entropy and the tokens each head attends to most.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from playground.service.model_service import get_service
from playground.transformer.positional import sinusoidal
from playground.text.tokenization import display_token
from playground.service.validate import clamp, clean_text

# A student may paste a whole book: the tokenizer truncates it, so allow long text in.
MAX_CHARS = 200_000
MAX_HAND_TOKENS = 24  # the by-hand heat-maps print values in cells: keep them small
MAX_HEADS = 8
MAX_D_K = 64
TOY_D_MODEL = 8
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 10.0


# --- scaled dot-product and multi-head attention, written out ---------------------------

@dataclass(frozen=True)
class Attention:
    """One head's intermediates: what a student wants to see, step by step."""

    scores: torch.Tensor  # (..., T_q, T_k) Q Kᵀ / √d_k, masked positions = -inf
    weights: torch.Tensor  # (..., T_q, T_k) softmax over keys: each row sums to 1
    output: torch.Tensor  # (..., T_q, d_v) weighted average of the values


def causal_mask(length: int) -> torch.Tensor:
    """(T, T) True where query i may look at key j: only j ≤ i (no peeking at the future)."""
    return torch.ones(length, length, dtype=torch.bool).tril()


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       mask: torch.Tensor | None = None, scaled: bool = True,
                       temperature: float = 1.0) -> Attention:
    """softmax(Q Kᵀ / √d_k / temperature) V. ``mask`` is True where attending is allowed.

    ``scaled=False`` leaves out the √d_k (to see why the paper has it); a temperature above 1
    flattens the weights, below 1 sharpens them."""
    d_k = q.shape[-1]
    # Dividing by √d_k keeps the scores' spread independent of d_k, so the softmax
    # does not saturate into a one-hot for wide heads.
    scale = (math.sqrt(d_k) if scaled else 1.0) * temperature
    scores = q @ k.transpose(-2, -1) / scale  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # exp(-inf) = 0: never attended
    weights = torch.softmax(scores, dim=-1)
    return Attention(scores=scores, weights=weights, output=weights @ v)


@dataclass(frozen=True)
class AttentionConfig:
    d_k: int = 8  # width of each head's queries, keys and values
    n_heads: int = 1  # heads run side by side; the concatenation is n_heads * d_k wide
    causal: bool = False  # GPT-style: each token sees only itself and earlier tokens
    seed: int = 0  # the projections are random (untrained): the seed makes them repeatable
    scaled: bool = True  # divide the scores by √d_k, as the paper does
    temperature: float = 1.0  # scores are divided by it too: > 1 flatter weights, < 1 sharper


@dataclass(frozen=True)
class Projections:
    """The learned matrices of one multi-head attention layer (paper convention: X W)."""

    w_q: torch.Tensor  # (d_model, H*d_k)
    w_k: torch.Tensor  # (d_model, H*d_k)
    w_v: torch.Tensor  # (d_model, H*d_k)
    w_o: torch.Tensor  # (H*d_k, d_model)
    b_q: torch.Tensor  # (H*d_k,)
    b_k: torch.Tensor  # (H*d_k,)
    b_v: torch.Tensor  # (H*d_k,)
    b_o: torch.Tensor  # (d_model,)


def random_projections(d_model: int, cfg: AttentionConfig) -> Projections:
    """Untrained projections drawn from the seed (Xavier-like scale 1/√fan_in)."""
    width = cfg.n_heads * cfg.d_k
    gen = torch.Generator().manual_seed(int(cfg.seed))

    def matrix(rows: int, cols: int) -> torch.Tensor:
        return torch.randn(rows, cols, generator=gen) / math.sqrt(rows)

    zeros = torch.zeros(width)
    return Projections(w_q=matrix(d_model, width), w_k=matrix(d_model, width),
                       w_v=matrix(d_model, width), w_o=matrix(width, d_model),
                       b_q=zeros, b_k=zeros, b_v=zeros, b_o=torch.zeros(d_model))


@dataclass(frozen=True)
class MultiHead:
    q: torch.Tensor  # (H, T, d_k)
    k: torch.Tensor  # (H, T, d_k)
    v: torch.Tensor  # (H, T, d_k)
    scores: torch.Tensor  # (H, T, T)
    weights: torch.Tensor  # (H, T, T)
    heads: torch.Tensor  # (H, T, d_k) each head's output
    concat: torch.Tensor  # (T, H*d_k) the heads side by side
    output: torch.Tensor  # (T, d_model) concat W_O + b_O


def multi_head_attention(x: torch.Tensor, p: Projections, n_heads: int, causal: bool = False,
                         scaled: bool = True, temperature: float = 1.0) -> MultiHead:
    """Multi-head self-attention of x (T, d_model), returning every intermediate."""
    T = x.shape[0]
    d_k = p.w_q.shape[1] // n_heads

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.view(T, n_heads, d_k).transpose(0, 1)  # (T, H*d_k) -> (H, T, d_k)

    q, k, v = split(x @ p.w_q + p.b_q), split(x @ p.w_k + p.b_k), split(x @ p.w_v + p.b_v)
    att = scaled_dot_product(q, k, v, causal_mask(T) if causal else None, scaled, temperature)
    concat = att.output.transpose(0, 1).reshape(T, n_heads * d_k)  # (H, T, d_k) -> (T, H*d_k)
    return MultiHead(q=q, k=k, v=v, scores=att.scores, weights=att.weights, heads=att.output,
                     concat=concat, output=concat @ p.w_o + p.b_o)


# --- the student's sentence as vectors -------------------------------------------------

@dataclass(frozen=True)
class TokenVectors:
    tokens: tuple[str, ...]
    vectors: torch.Tensor  # (T, d_model)
    source: str  # where the vectors come from, said in the UI
    n_tokens_full: int  # tokens before truncation

    @property
    def truncated(self) -> bool:
        return self.n_tokens_full > len(self.tokens)


def _word_tokens(tokenizer, text: str, max_tokens: int) -> tuple[list[int], int]:
    """Token ids without [CLS]/[SEP]: the by-hand lab shuffles words, not markers."""
    ids = tokenizer(clean_text(text, MAX_CHARS), add_special_tokens=False, verbose=False)["input_ids"]
    if not ids:
        raise ValueError("The text has no tokens: please type a few words.")
    return ids[:max_tokens], len(ids)


def model_word_embeddings(text: str, model_id: str, max_tokens: int = MAX_HAND_TOKENS) -> TokenVectors:
    """Each token's row of the model's embedding table: pretrained meaning, no position."""
    loaded = get_service().load(model_id, "AutoModel", eager_attention=True)
    ids, n_full = _word_tokens(loaded.tokenizer, text, max_tokens)
    with torch.inference_mode():
        vectors = loaded.model.get_input_embeddings()(torch.tensor(ids)).float().cpu()  # (T, d_model)
    # Raw embedding rows are tiny (entries ~0.05): every score would be ~0 and the softmax
    # flat. BERT layer-normalises its embeddings before attention; so do we.
    vectors = torch.nn.functional.layer_norm(vectors, vectors.shape[-1:])
    return TokenVectors(tuple(display_token(t) for t in loaded.tokenizer.convert_ids_to_tokens(ids)),
                        vectors, f"word embeddings of {model_id}, layer-normalised "
                                 f"(d_model = {vectors.shape[1]})", n_full)


def toy_vectors(text: str, model_id: str, max_tokens: int = MAX_HAND_TOKENS,
                d_model: int = TOY_D_MODEL) -> TokenVectors:
    """Small random vectors, the same vector for the same token (seeded by its text)."""
    tokenizer = get_service().load_tokenizer(model_id)
    ids, n_full = _word_tokens(tokenizer, text, max_tokens)
    tokens = tuple(display_token(t) for t in tokenizer.convert_ids_to_tokens(ids))
    rows = [torch.randn(d_model, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
            for t in tokens]
    return TokenVectors(tokens, torch.stack(rows), f"toy random vectors (d_model = {d_model})", n_full)


def hand_config(d_k: object, n_heads: object, causal: bool, seed: object, scaled: bool = True,
                temperature: object = 1.0) -> tuple[AttentionConfig, list[str]]:
    """Validate the student's settings; clamp absurd numbers with a note."""
    d_k_value, note_d = clamp(d_k, 1, MAX_D_K, "d_k", integer=True)
    heads_value, note_h = clamp(n_heads, 1, MAX_HEADS, "Heads", integer=True)
    seed_value, note_s = clamp(seed, 0, 2**31 - 1, "Seed", integer=True)
    temperature_value, note_t = clamp(temperature, MIN_TEMPERATURE, MAX_TEMPERATURE, "Temperature")
    cfg = AttentionConfig(int(d_k_value), int(heads_value), bool(causal), int(seed_value), bool(scaled),
                          float(temperature_value))
    return cfg, [n for n in (note_d, note_h, note_s, note_t) if n]


def entropy_bits(weights: torch.Tensor) -> torch.Tensor:
    """(...,) mean entropy in bits of the rows of (..., T, T) attention weights."""
    return -(weights * weights.clamp_min(1e-12).log2()).sum(-1).mean(-1)



@dataclass(frozen=True)
class ScalingEffect:
    """One head's entropy with and without the √d_k, all else as the student set it."""

    d_k: int
    head: int
    scaled_bits: float  # mean entropy per row, scores ÷ √d_k (the paper)
    unscaled_bits: float  # the same head, the √d_k left out


def scaling_effect(x: torch.Tensor, p: Projections, cfg: AttentionConfig, head: int) -> ScalingEffect:
    """How much the √d_k changes head ``head``'s weights: the softmax's inverse temperature
    grows by √d_k without it, so the weights can only get sharper (or, at d_k = 1, stay)."""
    bits = [float(entropy_bits(multi_head_attention(x, p, cfg.n_heads, cfg.causal, scaled,
                                                    cfg.temperature).weights[head]))
            for scaled in (True, False)]
    return ScalingEffect(cfg.d_k, head, *bits)


# --- attention ignores word order ------------------------------------------------------

@dataclass(frozen=True)
class ShuffleTest:
    order: tuple[int, ...]  # shuffled position k holds original token order[k]
    output: np.ndarray  # (T, d_model) attention of the sentence in its order
    shuffled_back: np.ndarray  # (T, d_model) attention of the shuffled sentence, rows put back in order
    change: np.ndarray  # (T,) how far each token's output moved because of the shuffle
    positional: bool  # whether positional encodings were added before attention


def shuffle_order(length: int, seed: int) -> tuple[int, ...]:
    """A seeded permutation that moves tokens (never the identity when T > 1)."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(length, generator=gen)
    if length > 1 and bool((order == torch.arange(length)).all()):
        order = order.roll(1)
    return tuple(int(i) for i in order)


def shuffle_test(x: torch.Tensor, p: Projections, n_heads: int, order: tuple[int, ...],
                 positional: bool = False) -> ShuffleTest:
    """Attend over x and over the shuffled x. Without positions the outputs simply move
    with their tokens (attention is permutation-equivariant). Sinusoidal positional
    encodings (Vaswani et al. 2017) belong to the slot, not the token, so with them the
    shuffled sentence really reads differently."""
    perm = torch.tensor(order)
    T, d_model = x.shape
    pe = sinusoidal(T, d_model) if positional else torch.zeros_like(x)  # (T, d_model)
    out = multi_head_attention(x + pe, p, n_heads).output  # (T, d_model)
    shuffled = multi_head_attention(x[perm] + pe, p, n_heads).output  # row k = token order[k]
    back = torch.empty_like(shuffled)
    back[perm] = shuffled  # undo the shuffle so row i is again token i
    change = (back - out).norm(dim=-1) / out.norm(dim=-1).clamp_min(1e-12)
    return ShuffleTest(order, out.detach().numpy(), back.detach().numpy(),
                       change.detach().numpy(), positional)


# --- attention inside a real model -----------------------------------------------------

@dataclass(frozen=True)
class ModelAttention:
    model_id: str
    tokens: tuple[str, ...]  # the tokenizer's own strings, specials included
    attentions: np.ndarray  # (L, H, T, T) float16 (halves the cache); row = query, column = key
    sentence_b_start: int | None  # first token of sentence B, for pairs
    causal: bool  # True when no token attends to a later one (GPT-style decoder)
    n_tokens_full: int  # tokens the whole input needs
    max_tokens: int  # tokens kept
    notes: tuple[str, ...]  # what was cut or ignored, for the student

    @property
    def n_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attentions.shape[1]

    def layer(self, index: int) -> np.ndarray:
        """(H, T, T) one layer's weights as float32, ready for arithmetic and plotting."""
        return self.attentions[index].astype(np.float32)


def model_limit(loaded) -> int:
    """The most tokens the model reads: its position table or the tokenizer's limit."""
    config = loaded.model.config
    limits = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions")]
    limits.append(getattr(loaded.tokenizer, "model_max_length", None))
    usable = [int(n) for n in limits if isinstance(n, int) and 0 < n < 1_000_000]
    return min(usable) if usable else 512


def model_attention(model_id: str, text: str, text_b: str = "", max_tokens: int = 128) -> ModelAttention:
    """All layers' and heads' attention weights of ``model_id`` on the text (or pair).

    One forward pass per (model, text, text_b, max_tokens), cached in the model
    service: switching layer or head never recomputes the model.
    """
    text = clean_text(text, MAX_CHARS)
    text_b = clean_text(text_b, MAX_CHARS, "sentence B") if (text_b or "").strip() else ""
    model_id = (model_id or "").strip()
    max_tokens = int(clamp(max_tokens, 2, 4096, "Max tokens", integer=True)[0])
    key = ("attention", model_id, text, text_b, max_tokens)
    return get_service().memo(key, lambda: _forward(model_id, text, text_b, max_tokens))


def _forward(model_id: str, text: str, text_b: str, max_tokens: int) -> ModelAttention:
    loaded = get_service().load(model_id, "AutoModel", eager_attention=True)
    tokenizer, notes = loaded.tokenizer, []
    if tokenizer is None:
        raise ValueError(f"{model_id} has no text tokenizer: choose a text model.")
    limit = model_limit(loaded)
    if max_tokens > limit:
        notes.append(f"Max tokens lowered to {limit}, the most {model_id} can read.")
        max_tokens = limit
    if text_b and tokenizer.sep_token is None:
        notes.append("Sentence B was ignored: this model reads one text (it has no separator "
                     "token; sentence pairs are a BERT-style idea).")
        text_b = ""
    pair = (text, text_b) if text_b else (text,)
    n_full = len(tokenizer(*pair, verbose=False)["input_ids"])
    enc = tokenizer(*pair, truncation=True, max_length=max_tokens, return_tensors="pt")
    if n_full > enc["input_ids"].shape[1]:
        notes.append(f"The text needs {n_full:,} tokens; only the first {enc['input_ids'].shape[1]} "
                     f"were kept (the limit is {max_tokens}; {model_id} reads at most {limit}).")
    with torch.inference_mode():
        try:
            out = loaded.model(**enc.to(loaded.device), output_attentions=True)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{model_id} cannot run on text alone (is it an encoder–decoder "
                             "model?). Choose an encoder (BERT-like) or decoder (GPT-like) model.") from err
    if not getattr(out, "attentions", None):
        raise ValueError(f"{model_id} returned no attention weights.")
    att = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()  # (L, H, T, T)
    ids = enc["input_ids"][0].tolist()
    b_start = _sentence_b_start(enc) if text_b else None
    causal = bool(np.allclose(np.triu(att, k=1), 0.0, atol=1e-6)) and len(ids) > 1
    # float16 in the shared cache: 3 digits are plenty to draw, and 512 tokens take 38 MB, not 75.
    return ModelAttention(model_id, tuple(tokenizer.convert_ids_to_tokens(ids)), att.astype(np.float16), b_start,
                          causal, n_full, len(ids), tuple(notes))


def _sentence_b_start(enc) -> int | None:
    """Index of sentence B's first token (fast tokenizers know which text each came from)."""
    sequence_ids = enc.sequence_ids(0)
    return next((i for i, s in enumerate(sequence_ids) if s == 1), None)


def head_entropy(attentions: np.ndarray) -> np.ndarray:
    """(L, H) mean entropy in bits of each head's rows: 0 = every query looks at one
    token; log2(T) = attention spread evenly over all T tokens."""
    attentions = np.asarray(attentions, dtype=np.float32)  # float16 would underflow at 1e-12
    p = np.clip(attentions, 1e-12, 1.0)
    return -(attentions * np.log2(p)).sum(-1).mean(-1)


def average_heads(model_att: ModelAttention, layer: int) -> np.ndarray:
    """(T, T) one layer's attention averaged over its heads."""
    return model_att.layer(layer).mean(0)


@dataclass(frozen=True)
class HeadSummary:
    layer: int
    head: int
    entropy_bits: float
    pattern: str  # the simple pattern that holds most of its attention (Clark et al. 2019)
    pattern_share: float  # mean attention on that pattern, 0..1
    top: tuple[tuple[str, float], ...]  # tokens that receive the most attention, mean weight


def head_patterns(weights: np.ndarray, tokens: tuple[str, ...]) -> dict[str, float]:
    """Mean attention (over queries) that a (T, T) head puts on the simple patterns Clark et
    al. 2019 found: itself, the previous token, the next token, the first token, separators."""
    T = weights.shape[0]
    first = tokens[0] if tokens else ""
    separators = [j for j, t in enumerate(tokens) if t in ("[SEP]", "</s>", "<|endoftext|>")]
    return {
        "itself": float(np.trace(weights) / T),
        "previous token": float(np.trace(weights, offset=-1) / T),
        "next token": float(np.trace(weights, offset=1) / T),
        f"first token {first}": float(weights[:, 0].mean()),
        "[SEP]": float(weights[:, separators].sum(-1).mean()) if separators else 0.0,
    }


def previous_token_shares(model_att: ModelAttention, layer: int) -> np.ndarray:
    """(H,) the mean attention each head of ``layer`` puts on the token just before the query
    (Clark et al. 2019 found such heads in BERT's early layers)."""
    return np.array([head_patterns(weights, model_att.tokens)["previous token"]
                     for weights in model_att.layer(layer)])


def top_attended(model_att: ModelAttention, layer: int, k: int = 3) -> list[HeadSummary]:
    """For each head of a layer: its main pattern and the k tokens it attends to most."""
    weights = model_att.layer(layer)  # (H, T, T)
    received = weights.mean(1)  # (H, T) average attention each key token receives
    entropy = head_entropy(weights[None])[0]
    tokens = [display_token(t) for t in model_att.tokens]
    summaries = []
    for head in range(weights.shape[0]):
        patterns = head_patterns(weights[head], model_att.tokens)
        pattern = max(patterns, key=patterns.get)
        best = np.argsort(-received[head])[:k]
        summaries.append(HeadSummary(
            layer, head, float(entropy[head]), pattern, patterns[pattern],
            tuple((f"{tokens[j]} (#{j})", float(received[head, j])) for j in best)))
    return summaries


def check_layer_head(model_att: ModelAttention, layer: object, head: object) -> tuple[int, int | None]:
    """Layer as an int in range; head an int in range, or None for 'average over heads'."""
    layer_value = int(clamp(layer, 0, model_att.n_layers - 1, "Layer", integer=True)[0])
    if head in (None, "", "average", "mean"):
        return layer_value, None
    return layer_value, int(clamp(head, 0, model_att.n_heads - 1, "Head", integer=True)[0])
