"""GAN lab benchmark: the app's training loop next to the textbook loop of the same nets,
and the *Healthy training* preset streamed through the live app: seconds until G's
samples reach the data's own noise floor (distance within 2× that of two samples of the
data), with frames per second.

    python -m tests.bench --only gan        (or: python -m tests.bench_gan http://127.0.0.1:7860/)

Core steps/s are per CPU second of this process, the two loops alternating: on a shared
machine the wall clock says more about the neighbours than about the code.
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

from playground.gan.config import PRESETS
from playground.gan.data import load_digits_data, sample_target
from playground.gan.digits import DigitsConfig, DigitsRun
from playground.gan.model import POOL, PointsRun

FLOOR_FACTOR = 2.0  # "reached the noise floor": distance within 2× that of the data itself
STREAM_LIMIT_S = 90.0  # give up on a stream after this long


def _interleaved_rates(loops: dict, steps: int = 200, rounds: int = 7) -> dict:
    """Steps per CPU second of each loop, measured in alternating rounds after a warm-up:
    this machine's speed drifts by ±30 % within a minute, and alternation makes the drift
    hit every loop alike. Reports the median rates and the median per-round ratio."""
    for train in loops.values():
        train(steps // 5)
    rates = {name: [] for name in loops}
    for _ in range(rounds):
        for name, train in loops.items():
            cpu = time.process_time()
            train(steps)
            rates[name].append(steps / max(time.process_time() - cpu, 1e-9))
    result = {f"{name}_steps_per_s_cpu": round(statistics.median(r), 1) for name, r in rates.items()}
    result["app_vs_textbook"] = round(statistics.median(
        [app / textbook for app, textbook in zip(rates["app"], rates["textbook"])]), 3)
    return result


def textbook_loop(n_in: int, n_out: int, width: int, batch: int, latent: int, real_batch, out_act=None):
    """The textbook loop (PyTorch's DCGAN example): nn.Sequential nets, torch.optim.Adam,
    one G forward reused for D's step and G's step."""
    def mlp(a: int, b: int, act: nn.Module | None) -> nn.Sequential:
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
    torch.set_num_threads(1)  # as the server (OMP_NUM_THREADS=1)
    try:
        gen = torch.Generator().manual_seed(0)
        cfg = replace(PRESETS["Healthy training"].config, max_steps=100_000)  # two 64-wide MLPs, batch 256
        pool = sample_target(cfg.target, POOL, gen)
        ring = lambda: pool[torch.randint(0, POOL, (cfg.batch_size,), generator=gen)]  # noqa: E731
        two_d = _interleaved_rates({"textbook": textbook_loop(2, 2, cfg.g_width, cfg.batch_size, cfg.latent_dim, ring),
                                    "app": PointsRun(cfg).train})
        images = torch.as_tensor(load_digits_data()[0])
        dcfg = DigitsConfig(conditional=False, max_steps=100_000)
        pick = lambda: images[torch.randint(0, len(images), (dcfg.batch_size,), generator=gen)]  # noqa: E731
        digits = _interleaved_rates({"textbook": textbook_loop(64, 64, dcfg.width, dcfg.batch_size, dcfg.latent_dim,
                                                               pick, nn.Tanh()),
                                     "app": DigitsRun(dcfg).train})
    finally:
        torch.set_num_threads(previous)
    return {"2d": two_d, "digits_unconditional": digits}


def _numbers(status: str) -> tuple[int, float, float] | None:
    """(step, distance, noise floor) from a 2-D status line."""
    step = re.search(r"step ([\d,]+) /", status)
    distance = re.search(r"Distance to the data: \*\*([\d.]+)\*\*.*differ by ([\d.]+)", status)
    if not (step and distance):
        return None
    return int(step.group(1).replace(",", "")), float(distance.group(1)), float(distance.group(2))


def healthy_to_noise_floor(client) -> dict:
    """Play *Healthy training* at full speed through the API; wall seconds from the click
    until a frame shows a distance within FLOOR_FACTOR × the data's own; frames/s."""
    from components import gan_tab as tab

    values = list(client.predict("Healthy training", api_name="/gan_preset")[:-1])
    client.predict(tab.DEFAULT_POINTS, *values, api_name="/gan_reset")
    started = time.monotonic()
    job = client.submit(tab.FULL_SPEED, tab.DEFAULT_POINTS, *values, api_name="/gan_play")
    reached_s = reached_step = None
    seen, first_frame_t = 0, None
    while time.monotonic() - started < STREAM_LIMIT_S and reached_s is None and not job.done():
        outputs = job.outputs()
        for frame in outputs[seen:]:
            first_frame_t = first_frame_t or time.monotonic()
            numbers = _numbers(frame[3])
            if numbers and numbers[1] <= FLOOR_FACTOR * numbers[2]:
                reached_s, reached_step = time.monotonic() - started, numbers[0]
                break
        seen = len(outputs)
        time.sleep(0.02)
    frames_s = time.monotonic() - (first_frame_t or started)
    n_frames = len(job.outputs())
    job.cancel()
    return {"seconds_to_noise_floor": None if reached_s is None else round(reached_s, 1),
            "step_reached": reached_step, "frames": n_frames,
            "frames_per_s": round(n_frames / max(frames_s, 1e-9), 1),
            "steps_per_s_streaming": None if reached_s is None else round(reached_step / reached_s, 1)}


def run(base_url: str) -> dict:
    from gradio_client import Client

    client = Client(base_url, verbose=False)
    results = {"core": core_speeds(), "healthy_stream": healthy_to_noise_floor(client)}
    results["targets"] = {"app_vs_textbook": "≥ 0.9", "seconds_to_noise_floor": "≤ 15",
                          "frames_per_s": "≥ 10"}
    return results


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"), indent=2))
