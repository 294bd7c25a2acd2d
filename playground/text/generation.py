"""Text generation one token at a time, with the next-token distribution at every step.

A causal language model (GPT-2, Radford et al. 2019, "Language Models are Unsupervised
Multitask Learners") gives, for a prefix, a score (logit) for every token of its
vocabulary. Decoding turns those scores into a choice:

- greedy: take the most likely token (temperature 0);
- temperature T: softmax(logits / T); T < 1 sharpens, T > 1 flattens;
- top-k: keep only the k most likely tokens (Fan et al. 2018, https://arxiv.org/abs/1805.04833);
- top-p / nucleus: keep the smallest set of tokens whose probability reaches p
  (Holtzman et al. 2020, https://arxiv.org/abs/1904.09751).

They are applied in that order (temperature, top-k, top-p), as ``transformers``' own
logits warpers do, and the kept probabilities are renormalised before sampling.
Greedy decoding here gives the same tokens as ``transformers.pipeline("text-generation")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import torch

from playground.service.validate import clamp

MODEL_ID = "neural-playground/reviews-gpt2"
MAX_NEW_TOKENS = 100  # a classroom demo: enough for a paragraph, fast on CPU
MAX_PROMPT_CHARS = 2_000
SHOWN_TOKENS = 10  # how many candidates each step reports for the bar chart


@dataclass(frozen=True)
class SamplingConfig:
    max_new_tokens: int = 20  # stop after this many new tokens (or at <|endoftext|>)
    temperature: float = 1.0  # 0 means greedy: always the most likely token
    top_k: int = 0  # keep the k most likely tokens; 0 = no limit
    top_p: float = 1.0  # keep the smallest set of tokens with total probability ≥ p; 1 = no limit
    seed: int = 0  # the sampling random generator's seed: same seed, same text

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class GenerationStep:
    """One decoding step: what the model proposed and what was picked."""

    step: int  # 1 for the first new token
    token_id: int
    token: str  # the chosen token as text (may be a partial character for byte-level BPE)
    prob: float  # its probability in the distribution actually sampled from
    model_prob: float  # its probability in the model's plain softmax (temperature 1)
    top_ids: tuple[int, ...]  # the most likely candidates, best first
    top_tokens: tuple[str, ...]
    top_model_probs: tuple[float, ...]  # plain softmax (temperature 1)
    top_probs: tuple[float, ...]  # after temperature, top-k and top-p (0 = cut off)
    support: int  # how many tokens had a non-zero chance after the filters
    entropy_bits: float  # entropy of the sampled-from distribution: 0 = certain


@dataclass(frozen=True)
class Generation:
    prompt: str
    prompt_ids: tuple[int, ...]  # the tokens the model was fed (after any left truncation)
    steps: tuple[GenerationStep, ...]
    completion: str  # the new text (special tokens skipped), as the pipeline decodes it
    stopped_at_eos: bool
    config: SamplingConfig
    notes: tuple[str, ...]  # clamped settings, truncated prompt, ...

    @property
    def text(self) -> str:
        """Prompt plus completion, like the pipeline's ``generated_text``."""
        return self.prompt + self.completion

    @property
    def new_ids(self) -> tuple[int, ...]:
        return tuple(s.token_id for s in self.steps)


def make_sampling(max_new_tokens: object = 20, temperature: object = 1.0, top_k: object = 0,
                  top_p: object = 1.0, seed: object = 0) -> tuple[SamplingConfig, list[str]]:
    """Validate raw settings (e.g. from sliders) into a SamplingConfig plus notes on clamping.

    Non-numbers and NaN raise ValueError; out-of-range numbers are clamped with a note.
    """
    notes = []
    n, note_n = clamp(max_new_tokens, 1, MAX_NEW_TOKENS, "Max new tokens", integer=True)
    t, note_t = clamp(temperature, 0.0, 5.0, "Temperature")
    k, note_k = clamp(top_k, 0, 100_000, "Top-k", integer=True)
    p, note_p = clamp(top_p, 0.01, 1.0, "Top-p")
    s, note_s = clamp(seed, 0, 2**31 - 1, "Seed", integer=True)
    notes += [note for note in (note_n, note_t, note_k, note_p, note_s) if note]
    return SamplingConfig(int(n), float(t), int(k), float(p), int(s)), notes


def warp(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """(V,) logits → (V,) probabilities to sample from: temperature, then top-k, then top-p.

    Greedy puts all the mass on the most likely token.
    """
    if cfg.greedy:
        probs = torch.zeros_like(logits, dtype=torch.float32)
        probs[int(logits.argmax())] = 1.0
        return probs
    scores = logits.float() / cfg.temperature
    if 0 < cfg.top_k < scores.numel():
        kth = torch.topk(scores, cfg.top_k).values[-1]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if cfg.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=True)
        sorted_probs = sorted_scores.softmax(dim=-1)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # of the likelier tokens
        # Drop a token when the ones before it already reach p; the best token always stays.
        drop_sorted = mass_before >= cfg.top_p
        drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
        scores = scores.masked_fill(drop, -math.inf)
    return scores.softmax(dim=-1)


def _prompt_ids(tokenizer: Any, prompt: str, room: int) -> tuple[list[int], list[str]]:
    """Token ids for the prompt, keeping only the last ``room`` tokens if it is too long.
    An empty prompt starts from <|endoftext|>: the beginning of a new review."""
    notes = []
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
    if not ids:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if start is None:
            raise ValueError("Please type a prompt: this model has no start token.")
        ids = [start]
    if len(ids) > room:
        notes.append(f"The prompt has {len(ids)} tokens; only its last {room} fit in the model's "
                     "context together with the new tokens.")
        ids = ids[-room:]
    return ids, notes


def _check_prompt(prompt: object) -> str:
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise ValueError(f"The prompt must be text, not {type(prompt).__name__}.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"The prompt has {len(prompt):,} characters; the limit is "
                         f"{MAX_PROMPT_CHARS:,}. Please shorten it.")
    return prompt


def _prepare(model: Any, tokenizer: Any, prompt: object, cfg: SamplingConfig
             ) -> tuple[list[int], int, list[str]]:
    """(prompt ids, how many new tokens fit, notes): prompt + new tokens ≤ the context."""
    prompt = _check_prompt(prompt)
    config = model.config
    limit = int(getattr(config, "n_positions", 0) or getattr(config, "max_position_embeddings", 1024))
    max_new = min(cfg.max_new_tokens, limit - 1)
    ids, notes = _prompt_ids(tokenizer, prompt, limit - max_new)
    return ids, max_new, notes


def generate_steps(model: Any, tokenizer: Any, prompt: str, cfg: SamplingConfig
                   ) -> Iterator[GenerationStep]:
    """Generate up to ``cfg.max_new_tokens`` tokens, yielding each step as it is decided
    (for streaming to the UI; ``generate`` returns the whole run at once).

    ``model`` is any transformers causal LM (e.g. ``load_reviews_gpt2().model``), in eval
    mode; ``tokenizer`` its tokenizer. Stops early at the end-of-text token. Sampling uses
    its own ``torch.Generator`` seeded with ``cfg.seed``: same inputs, same tokens.
    Raises ValueError for a prompt that is not text or longer than MAX_PROMPT_CHARS.
    """
    ids, max_new, _ = _prepare(model, tokenizer, prompt, cfg)
    yield from decode_ids(model, tokenizer, ids, max_new, cfg)


def decode_ids(model: Any, tokenizer: Any, ids: list[int], max_new: int, cfg: SamplingConfig
               ) -> Iterator[GenerationStep]:
    """Generate after token ids already prepared (e.g. a chat template); see generate_steps."""
    gen = torch.Generator().manual_seed(cfg.seed)
    device = next(model.parameters()).device
    input_ids = torch.tensor([ids], device=device)  # (1, T): the whole prompt at first
    cache = None
    with torch.no_grad():
        for step in range(1, max_new + 1):
            out = model(input_ids=input_ids, cache=cache, use_cache=True)
            cache = out.cache  # keys/values of earlier tokens: next time feed only the new one
            logits = out.logits[0, -1].float().cpu()  # (V,)
            model_probs = logits.softmax(dim=-1)
            probs = warp(logits, cfg)
            token = int(probs.argmax()) if cfg.greedy else int(torch.multinomial(probs, 1, generator=gen))
            top = torch.topk(logits, min(SHOWN_TOKENS, logits.numel())).indices.tolist()
            kept = probs[probs > 0]
            yield GenerationStep(
                step=step, token_id=token, token=tokenizer.decode([token]),
                prob=float(probs[token]), model_prob=float(model_probs[token]),
                top_ids=tuple(top), top_tokens=tuple(tokenizer.decode([t]) for t in top),
                top_model_probs=tuple(float(model_probs[t]) for t in top),
                top_probs=tuple(float(probs[t]) for t in top), support=int(kept.numel()),
                entropy_bits=float(-(kept * kept.log2()).sum()),
            )
            if token == tokenizer.eos_token_id:
                return
            input_ids = torch.tensor([[token]], device=device)  # (1, 1)


def generate(model: Any, tokenizer: Any, prompt: str, cfg: SamplingConfig) -> Generation:
    """Validate the prompt, generate, and return every step plus the decoded completion.

    Raises ValueError for a prompt that is not text or longer than MAX_PROMPT_CHARS.
    """
    ids, max_new, notes = _prepare(model, tokenizer, prompt, cfg)
    steps = tuple(decode_ids(model, tokenizer, ids, max_new, cfg))
    new_ids = [s.token_id for s in steps]
    return Generation(
        prompt=prompt or "", prompt_ids=tuple(ids), steps=steps,
        completion=tokenizer.decode(new_ids, skip_special_tokens=True),
        stopped_at_eos=bool(new_ids) and new_ids[-1] == tokenizer.eos_token_id,
        config=cfg, notes=tuple(notes),
    )


def perplexity(model: Any, tokenizer: Any, texts: Iterable[str], max_tokens: int = 128,
               batch_size: int = 32) -> float:
    """exp(mean next-token cross-entropy) over ``texts``; lower = less surprised.

    Each text is read from <|endoftext|> (as in training) and cut to ``max_tokens``.
    Texts are scored in padded batches; padding is masked out of attention and loss.
    """
    start = tokenizer.eos_token_id
    rows = [([start] + tokenizer(t, add_special_tokens=False)["input_ids"])[:max_tokens] for t in texts]
    rows = [r for r in rows if len(r) >= 2]
    if not rows:
        raise ValueError("No text to score: please give at least one non-empty text.")
    total_nll, total_tokens = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for k in range(0, len(rows), batch_size):
            chunk = rows[k:k + batch_size]
            width = max(len(r) for r in chunk)
            ids = torch.tensor([r + [start] * (width - len(r)) for r in chunk], device=device)  # (B, T)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in chunk], device=device)
            labels = ids.masked_fill(mask == 0, -100)  # -100: ignored by the loss
            n_predicted = int(mask[:, 1:].sum())  # each token after the first is predicted once
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss  # mean over them
            total_nll += float(loss) * n_predicted
            total_tokens += n_predicted
    return math.exp(total_nll / total_tokens)


def load_reviews_gpt2() -> Any:
    """The shipped tiny GPT-2 through the model service: ``.model`` and ``.tokenizer``."""
    from playground.service.model_service import get_service

    return get_service().load(MODEL_ID, "AutoModelForCausalLM")
