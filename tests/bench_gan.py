"""GAN lab benchmark: training steps/s of our loop next to a plain PyTorch loop of the same
nets and batch, and steps/s + frames/s while streaming through the live app.

    python -m tests.bench_gan http://127.0.0.1:7860/     (or via tests/bench.py)

Core steps/s are per CPU second of this process, our loop and the plain one alternating:
on a shared machine the wall clock says more about the neighbours than about the code.
Streaming steps/s are wall-clock: the app's run trains in a worker process
(``playground.gan.background``) while the server draws and sends frames.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.gan.model import GANRun
from playground.gan.config import PRESETS
from playground.gan.digits import DigitsConfig, DigitsRun
from playground.gan.data import load_digits_data, sample_target

STREAM_S = 8.0  # how long each streaming measurement lasts


def _interleaved_rates(loops: dict, steps: dict, rounds: int = 5) -> dict:
    """Steps per CPU second of each loop, measured in alternating rounds after a warm-up:
    this machine's speed drifts by ±30 % within a minute, and alternation makes the drift
    hit every loop alike. Reports the median rate and the median per-round ratio to "plain"."""
    for name, train in loops.items():
        train(steps[name] // 5)
    rates = {name: [] for name in loops}
    for _ in range(rounds):
        for name, train in loops.items():
            cpu = time.process_time()
            train(steps[name])
            rates[name].append(steps[name] / max(time.process_time() - cpu, 1e-9))
    result = {f"{name}_steps_per_s_cpu": round(statistics.median(r), 1) for name, r in rates.items()}
    result["speedup_vs_plain"] = round(statistics.median(
        [ours / plain for ours, plain in zip(rates["ours"], rates["plain"])]), 2)
    return result


def plain_loop(n_in: int, n_out: int, width: int, batch: int, latent: int, real_batch, out_act=None):
    """The textbook loop: nn.Sequential nets, torch.optim.Adam, BCE-with-logits losses."""
    def mlp(a, b, act):
        layers = [nn.Linear(a, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, b)]
        return nn.Sequential(*layers, *([act] if act else []))
    G, D = mlp(latent, n_out, out_act), mlp(n_in, 1, None)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))

    def train(steps: int) -> None:
        for _ in range(steps):
            real, fake = real_batch(), G(torch.randn(batch, latent))
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = F.softplus(-D(fake)).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
    return train


def core_speeds() -> dict:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        cfg = replace(PRESETS["Healthy training"].config, max_steps=100_000)  # two 64-wide MLPs, batch 256
        ring = lambda: sample_target("ring", cfg.batch_size, gen)  # noqa: E731
        two_d = _interleaved_rates(
            {"plain": plain_loop(2, 2, 64, cfg.batch_size, cfg.latent_dim, ring), "ours": GANRun(cfg).train},
            {"plain": 100, "ours": 300})
        images = torch.as_tensor(load_digits_data()[0])
        dcfg = DigitsConfig(conditional=False, max_steps=100_000)
        pick = lambda: images[torch.randint(0, len(images), (dcfg.batch_size,), generator=gen)]  # noqa: E731
        digits = _interleaved_rates(
            {"plain": plain_loop(64, 64, dcfg.width, dcfg.batch_size, dcfg.latent_dim, pick, nn.Tanh()),
             "ours": DigitsRun(dcfg).train},
            {"plain": 100, "ours": 300})
    finally:
        torch.set_num_threads(previous)
    return {"2d": two_d, "digits": digits}


def _step_of(status: str) -> int:
    match = re.search(r"step ([\d,]+) /", status)
    return int(match.group(1).replace(",", "")) if match else 0


def stream_speed(client, api_name: str, args: list, status_index: int) -> dict:
    """Run a Play stream for STREAM_S seconds through the API; count frames and steps."""
    job = client.submit(*args, api_name=api_name)
    first_t, first_step = None, 0
    deadline = time.monotonic() + STREAM_S + 60
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs and first_t is None:
            first_t, first_n, first_step = time.monotonic(), len(outputs), _step_of(outputs[-1][status_index])
        if first_t is not None and time.monotonic() - first_t >= STREAM_S:
            break
        time.sleep(0.05)
    outputs = job.outputs()
    job.cancel()
    if first_t is None:
        return {"frames_per_s": 0.0, "steps_per_s": 0.0, "note": "no frame arrived"}
    seconds = time.monotonic() - first_t
    return {"frames_per_s": round((len(outputs) - first_n) / seconds, 1),
            "steps_per_s": round((_step_of(outputs[-1][status_index]) - first_step) / seconds, 1),
            "seconds": round(seconds, 1)}


def run(base_url: str) -> dict:
    from gradio_client import Client

    from components import gan_tab as tab

    client = Client(base_url, verbose=False)
    healthy = [getattr(PRESETS["Healthy training"].config, name) for name in tab.SETTINGS]
    healthy[tab.SETTINGS.index("max_steps")] = 20_000
    results = {"core": core_speeds()}
    results["stream_2d"] = stream_speed(client, "/gan_play", [False, tab.DEFAULT_POINTS, *healthy], 3)
    results["stream_digits"] = stream_speed(client, "/gan_digits_play", [True, 1e-3, 64, 20_000, 0], 3)
    for kind in ("2d", "digits"):  # the target: while streaming, against the plain loop
        stream, plain = results[f"stream_{kind}"], results["core"][kind]["plain_steps_per_s_cpu"]
        stream["speedup_vs_plain"] = round(stream["steps_per_s"] / plain, 2)
    results["targets"] = {"steps_per_s": "≥ 3 × plain loop", "frames_per_s": "≥ 10"}
    return results


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"), indent=2))
