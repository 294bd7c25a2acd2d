"""Train the class-conditional digits GAN and save it to assets/models/gan-digits.

    nice -n 10 python -m playground.train.gan_digits

Deterministic from its seed (one CPU thread; all noise comes from the run's seeded
generator). Writes model.safetensors (the state dicts of both nets plus the training
histories), config.json, model_info.json (format "state") and card.md with the metrics.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from playground.gan.digits import DigitsConfig, DigitsRun, data_nearest_distance
from playground.service.model_service import ASSET_MODELS

OUT_DIR = ASSET_MODELS / "gan-digits"
MODEL_ID = "neural-playground/gan-digits"
PRINT_EVERY = 250  # steps between two progress lines


def train(cfg: DigitsConfig) -> DigitsRun:
    run = DigitsRun(cfg, "training script")  # measures step 0
    while not run.done:
        run.train(PRINT_EVERY)
        snap = run.snapshot()
        print(f"step {snap.step:5d}  D {snap.d_loss[-100:].mean():.3f}  G {snap.g_loss[-100:].mean():.3f}  "
              f"nearest-real {snap.nn_distance[-1]:.3f}  classifier agrees {snap.agreement[-1]:.0%}",
              flush=True)
    return run


def card(run: DigitsRun, seconds: float) -> str:
    cfg = run.cfg
    return f"""# gan-digits: a class-conditional MLP GAN on 8×8 digits

**What it is.** A generator G (noise z of {cfg.latent_dim} numbers + a one-hot digit label →
{cfg.layers} hidden layers of {cfg.width} leaky-ReLU units → 64 pixels, tanh) and a
discriminator D (64 pixels + the label → {cfg.layers} × {cfg.width} leaky-ReLU → 1 logit),
trained with the non-saturating GAN loss (Goodfellow et al. 2014), Adam (lr {cfg.lr_g},
β = (0.5, 0.999)), batch {cfg.batch_size}, {run.step} steps. Code: `playground/gan/model.py`,
`playground/gan/digits.py`. Tensors are the two nets' state dicts (`generator.net.0.weight`
is G's first `nn.Linear`, (out, in)); `history.*` hold the loss and quality curves of training.

**Data.** scikit-learn's bundled `load_digits()`: 1,797 images of 8×8 pixels (0..16),
scaled to [-1, 1]. No download.

**How it was made.** `nice -n 10 python -m playground.train.gan_digits` (seed {cfg.seed},
one CPU thread, {seconds:.0f} s on a shared 2-core machine). Deterministic from the seed.

**Metrics** (80 samples: the fixed latent grid, 8 per digit):
- classifier agreement: a softmax regression trained on the real digits reads
  **{run.agreements[-1]:.0%}** of the samples as the digit that was asked for (step 0: {run.agreements[0]:.0%});
- nearest-real distance (RMS pixel difference to the closest real image, 0..1 scale):
  **{run.nn_distances[-1]:.3f}** (step 0: {run.nn_distances[0]:.3f}; real digits against
  each other: {data_nearest_distance():.3f}).

**Limits.** 8×8 digits only; samples are recognisable but blurry; the nearest-real
distance near the real digits' own means G may stay close to training images.
License: MIT.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=DigitsConfig().max_steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = DigitsConfig(max_steps=args.steps, seed=args.seed)
    started = time.time()
    run = train(cfg)
    seconds = time.time() - started
    tensors, config = run.state()
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(args.out / "model.safetensors"))
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (args.out / "model_info.json").write_text(json.dumps({
        "id": MODEL_ID, "tasks": ["gan-digits"], "license": "mit", "format": "state",
        "description": "Class-conditional MLP GAN on scikit-learn's 8×8 digits (GAN lab).",
    }, indent=2) + "\n")
    (args.out / "card.md").write_text(card(run, seconds))
    print(f"saved to {args.out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
