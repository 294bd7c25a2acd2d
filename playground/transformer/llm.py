"""Inside a real LLM: SmolLM2-135M-Instruct, next token by next token.

A decoder-only transformer (Radford et al. 2019) reads the tokens so far and scores every
token of its vocabulary as the next one. SmolLM2 (Allal et al. 2025) is a small Llama
(Touvron et al. 2023): 30 blocks, each

    x = x + Attention(RMSNorm(x))     # causal, grouped-query, RoPE positions
    x = x + SwiGLU(RMSNorm(x))        # the MLP: down(silu(gate(x)) * up(x))

then a last RMSNorm and the (tied) unembedding give the logits. ``forward_by_hand`` writes
that pass out with the model's own weights and returns what a student wants to see: the
causal attention weights, the residual stream, what each sublayer adds, RMSNorm before and
after, the SwiGLU gate, and the logit lens (nostalgebraist 2020: decode every layer's
residual as if it were the last). Tests check it against the transformers forward pass.

Sampling (temperature, top-k, top-p) is ``playground.text.generation.warp``: one home for
the warps, checked against transformers' logits warpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from playground.service.model_service import SMOLLM2, Loaded, get_service
from playground.service.validate import clamp, clean_text
from playground.text import generation
from playground.text.generation import GenerationStep, SamplingConfig

MODEL_ID = SMOLLM2
MAX_PROMPT_TOKENS = 512  # longer prompts keep their last 512 tokens (and say so)
MAX_NEW_TOKENS = 256  # per run, stepped or generated
MAX_PROMPT_CHARS = 20_000
TOP_SHOWN = 12  # candidates in the bar chart
LENS_TOP = 5  # tokens per layer in the logit-lens grid
ATTENTION_SHOWN = 48  # heat-maps draw the first 48 tokens: 9 maps of 48 x 48 stay readable


@dataclass(frozen=True)
class Prompt:
    ids: tuple[int, ...]  # what the model reads (after the chat template and truncation)
    n_full: int  # tokens before truncation
    chat: bool  # wrapped in the chat template (the instruct model answers)

    @property
    def truncated(self) -> bool:
        return self.n_full > len(self.ids)


def load_llm(model_id: str = MODEL_ID) -> Loaded:
    """The decoder through the model service (eager attention: its weights can be read)."""
    loaded = get_service().load(model_id, "AutoModelForCausalLM", eager_attention=True)
    if not (hasattr(loaded.model, "lm_head") and hasattr(getattr(loaded.model, "model", None), "layers")):
        raise ValueError(f"{model_id} is not a Llama-style decoder; this lab opens SmolLM2 / Llama models.")
    return loaded


def encode_prompt(tokenizer: Any, text: object, chat: bool) -> Prompt:
    """Token ids for a prompt, or for a chat message wrapped in the model's chat template.

    Raises ValueError for empty, non-text or huge input; keeps the last MAX_PROMPT_TOKENS."""
    text = clean_text(text, MAX_PROMPT_CHARS, "prompt")
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("This model has no chat template: untick 'Chat message'.")
        text = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return Prompt(tuple(ids[-MAX_PROMPT_TOKENS:]), len(ids), chat)


def sampling(temperature: object, top_k: object, top_p: object, seed: object = 0,
             max_new_tokens: object = 1) -> tuple[SamplingConfig, list[str]]:
    """Validated settings (temperature 0 = greedy, top-k 0 and top-p 1 = off) plus notes."""
    cfg, notes = generation.make_sampling(1, temperature, top_k, top_p, seed)
    n, note = clamp(max_new_tokens, 1, MAX_NEW_TOKENS, "New tokens", integer=True)
    return replace(cfg, max_new_tokens=int(n)), notes + ([note] if note else [])


# --- the next-token distribution ----------------------------------------------------------

@dataclass(frozen=True)
class NextToken:
    """The model's next-token distribution and the one sampling draws from."""

    top_ids: np.ndarray  # (TOP_SHOWN,) the most probable tokens, best first
    model_probs: np.ndarray  # (TOP_SHOWN,) plain softmax of the logits (temperature 1)
    warped_probs: np.ndarray  # (TOP_SHOWN,) after temperature, top-k, top-p (0 = cut)
    kept: int  # tokens sampling can still pick
    cut_mass: float  # the model's probability on tokens that were cut
    entropy_bits: float  # of the warped distribution: 0 = certain


def warped(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """(V,) logits → (V,) probabilities to sample from (temperature, top-k, top-p)."""
    return generation.warp(logits, cfg)


def next_token(logits: torch.Tensor, cfg: SamplingConfig, shown: int = TOP_SHOWN) -> NextToken:
    model_probs = logits.float().softmax(-1)
    probs = warped(logits, cfg)
    # Warps never reorder tokens, so the model's top tokens are also the warped top.
    top = torch.topk(model_probs, shown).indices
    kept = probs > 0
    nonzero = probs[kept]
    return NextToken(top.numpy(), model_probs[top].numpy(), probs[top].numpy(), int(kept.sum()),
                     float(model_probs[~kept].sum()), float(-(nonzero * nonzero.log2()).sum()))


def choose(logits: torch.Tensor, cfg: SamplingConfig, how: str, step_seed: int) -> int:
    """Pick the next token: "greedy" (the most probable) or "sample" (from the warped
    distribution, with a generator of this step's own: same seed, same token)."""
    if how == "greedy":
        return int(logits.argmax())
    if how == "sample":
        generator = torch.Generator().manual_seed(step_seed)
        return int(torch.multinomial(warped(logits, cfg), 1, generator=generator))
    raise ValueError("Choose greedy or sample.")


def step_seed(seed: int, n_tokens: int) -> int:
    """A seed per (run seed, position): stepping again from the same text repeats the draw."""
    return (seed * 1_000_003 + n_tokens) % 2**63


def stream(loaded: Loaded, ids: tuple[int, ...], cfg: SamplingConfig) -> Iterator[GenerationStep]:
    """Generate up to ``cfg.max_new_tokens`` tokens after ``ids`` (keys/values cached), one
    step at a time; close the iterator to stop. Its generator is seeded with ``cfg.seed``."""
    yield from generation.decode_ids(loaded.model, loaded.tokenizer, list(ids), cfg.max_new_tokens, cfg)


# --- one forward pass, written out ---------------------------------------------------------

def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm (Zhang & Sennrich 2019): divide by the root mean square, scale by a learned
    gain. Unlike LayerNorm it does not subtract the mean."""
    return weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rope(x: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary positions (Su et al. 2021) for (heads, T, d): each pair of dimensions (i, i + d/2)
    turns by angle position · θ^(-2i/d), so q·k depends on the distance between tokens."""
    _, length, d = x.shape
    inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)  # (d/2,)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * inv_freq[None]  # (T, d/2)
    cos, sin = angles.cos().repeat(1, 2), angles.sin().repeat(1, 2)  # (T, d)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def causal_attention(attn: Any, x: torch.Tensor, n_heads: int, n_kv_heads: int, theta: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grouped-query causal self-attention of one layer on (T, d) → (output (T, d), weights (H, T, T)).

    9 query heads share 3 key/value heads: heads 0-2 read key/value head 0, 3-5 head 1, 6-8
    head 2 (Ainslie et al. 2023), a third of the keys and values to store."""
    length, _ = x.shape
    d_head = attn.q_proj.out_features // n_heads
    q = attn.q_proj(x).view(length, n_heads, d_head).transpose(0, 1)  # (H, T, d_head)
    k = attn.k_proj(x).view(length, n_kv_heads, d_head).transpose(0, 1)  # (KV, T, d_head)
    v = attn.v_proj(x).view(length, n_kv_heads, d_head).transpose(0, 1)  # (KV, T, d_head)
    q, k = rope(q, theta), rope(k, theta)
    group = n_heads // n_kv_heads
    k, v = k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)  # (H, T, d_head)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)  # (H, T, T)
    future = torch.ones(length, length, dtype=torch.bool).triu(1)  # a token may not see later ones
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)  # rows sum to 1, future = 0
    heads = (weights @ v).transpose(0, 1).reshape(length, n_heads * d_head)  # (T, H·d_head)
    return attn.o_proj(heads), weights


def swiglu(mlp: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The SwiGLU MLP (Shazeer 2020): (output, gate = silu(W_gate x), up = W_up x).

    The gate decides, unit by unit, how much of ``up`` passes: near 0 closes a unit."""
    gate = F.silu(mlp.gate_proj(x))  # (T, d_ff)
    up = mlp.up_proj(x)  # (T, d_ff)
    return mlp.down_proj(gate * up), gate, up


@dataclass(frozen=True)
class AttentionFocus:
    """One layer's mean attention weight (over its heads and the queries from the third token
    on, where the first and the previous token differ) on three keys a head often prefers."""

    first: float  # the first token: the attention sink (Xiao et al. 2024)
    previous: float  # the token just before the query
    itself: float  # the query's own token


def attention_focus(weights: torch.Tensor) -> AttentionFocus | None:
    """(H, T, T) causal weights → their mean on the first, the previous and the own token;
    None for fewer than 3 tokens (then the first token is the previous one)."""
    length = weights.shape[-1]
    if length < 3:
        return None
    queries = torch.arange(2, length)
    return AttentionFocus(float(weights[:, 2:, 0].mean()), float(weights[:, queries, queries - 1].mean()),
                          float(weights[:, queries, queries].mean()))


@dataclass(frozen=True)
class Inside:
    """One forward pass, opened. Arrays are float32 numpy; L layers, H heads, d wide."""

    ids: tuple[int, ...]
    logits: torch.Tensor  # (V,) the next-token logits at the last position
    lens_ids: np.ndarray  # (L+1, LENS_TOP): row 0 = the embeddings, row l = after block l
    lens_probs: np.ndarray  # (L+1, LENS_TOP)
    sink_share: np.ndarray  # (L, H) mean weight queries 1..T-1 put on token 0
    position: int  # the position whose block is opened
    residual_norm: np.ndarray  # (L+1,) ‖residual‖ at ``position`` after the embeddings and each block
    attention_norm: np.ndarray  # (L,) ‖what attention adds‖
    mlp_norm: np.ndarray  # (L,) ‖what the MLP adds‖
    contributions: np.ndarray  # (2L+1, d): embedding, attention 0, MLP 0, attention 1, ...
    final_residual: np.ndarray  # (d,) the residual after the last block (before the final norm)
    layer: int  # the layer whose RMSNorm, gate and attention are returned
    rms_before: np.ndarray  # (d,) the residual entering that layer's attention RMSNorm
    rms_after: np.ndarray  # (d,) after it (÷ RMS, × gain)
    gate: np.ndarray  # (d_ff,) silu(gate) of that layer's MLP
    up: np.ndarray  # (d_ff,)
    attention: np.ndarray | None  # (H, t, t) that layer's weights, first ATTENTION_SHOWN tokens
    focus: AttentionFocus | None  # where that layer's heads look on average (None under 3 tokens)


def forward_by_hand(loaded: Loaded, ids: tuple[int, ...], position: int = -1, layer: int = 0,
                    with_attention: bool = False) -> Inside:
    """Run the decoder block by block with its own weights and keep what the views show.

    ``position`` and ``layer`` select the opened block (negative = from the end); attention
    maps are kept only when asked (``with_attention``), the sink summary always."""
    model, cfg = loaded.model, loaded.model.config
    if not ids:
        raise ValueError("There are no tokens to read.")
    n_layers, n_heads, n_kv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    theta, eps = float(cfg.rope_parameters["rope_theta"]), float(cfg.rms_norm_eps)
    length = len(ids)
    # Clamp into range, then index a range: that turns −1 into the last position or layer.
    position = range(length)[max(-length, min(position, length - 1))]
    layer = range(n_layers)[max(-n_layers, min(layer, n_layers - 1))]
    layers = model.model.layers
    with torch.inference_mode():
        x = model.model.embed_tokens(torch.tensor(ids))  # (T, d): the residual stream starts here
        residuals, added, sinks = [x[-1]], [x[position]], []
        for index, block in enumerate(layers):
            normed = rms_norm(x, block.input_layernorm.weight, eps)
            attn_out, weights = causal_attention(block.self_attn, normed, n_heads, n_kv, theta)
            mid = x + attn_out
            mlp_out, gate, up = swiglu(block.mlp, rms_norm(mid, block.post_attention_layernorm.weight, eps))
            if index == layer:
                opened = (x[position], normed[position], gate[position], up[position],
                          weights[:, :ATTENTION_SHOWN, :ATTENTION_SHOWN] if with_attention else None,
                          attention_focus(weights))
            x = mid + mlp_out
            residuals.append(x[-1])
            added += [attn_out[position], mlp_out[position]]
            sinks.append(weights[:, 1:, 0].mean(-1) if length > 1 else weights[:, 0, 0])
        last = torch.stack(residuals)  # (L+1, d) the last position through the layers
        # The logit lens: every layer's residual through the final norm and the unembedding.
        lens = model.lm_head(rms_norm(last, model.model.norm.weight, eps)).float().softmax(-1)
        lens_top = torch.topk(lens, LENS_TOP, dim=-1)
        contributions = torch.stack(added)  # (2L+1, d)
        at_position = contributions.cumsum(0)[0::2]  # (L+1, d): embedding, after block 0, ...
        logits = model.lm_head(rms_norm(x[-1], model.model.norm.weight, eps))  # (V,)
    before, after, gate, up, attention, focus = opened
    return Inside(
        ids=tuple(ids), logits=logits,
        lens_ids=lens_top.indices.numpy(), lens_probs=lens_top.values.numpy(),
        sink_share=torch.stack(sinks).numpy(), position=position,
        residual_norm=at_position.norm(dim=-1).numpy(),
        attention_norm=contributions[1::2].norm(dim=-1).numpy(),
        mlp_norm=contributions[2::2].norm(dim=-1).numpy(),
        contributions=contributions.numpy(), final_residual=x[position].numpy(), layer=layer,
        rms_before=before.numpy(), rms_after=after.numpy(), gate=gate.numpy(), up=up.numpy(),
        attention=None if attention is None else attention.numpy(), focus=focus,
    )


def inside(loaded: Loaded, ids: tuple[int, ...], position: int = -1, layer: int = 0,
           with_attention: bool = False) -> Inside:
    """``forward_by_hand``, remembered per (model, tokens, view): redraws reuse it."""
    key = ("llm-inside", loaded.info.id, id(loaded.model), tuple(ids), position, layer, with_attention)
    return get_service().memo(key, lambda: forward_by_hand(loaded, ids, position, layer, with_attention))
