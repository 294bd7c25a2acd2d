"""Benchmark of the RNN & LSTM tab (called by tests/bench.py with a running app).

Measures the stepper's step latency two ways: the handler alone, in this process
("server-side": validation, equations, three figures; target p50 ≤ 50 ms), and a full
round trip through gradio_client (queue + network + JSON). Also reset + analysis (the
gradient norms of three cells and both directions) and the memory race's training speed
(optimisation steps per second, RNN and LSTM each taking one step per step)."""

from __future__ import annotations

import time

import numpy as np

SEQ = "C0312013203120312"  # 17 symbols
SETTINGS = ("lstm", "chars", SEQ, "random", 0, 8, False, 1.0, False, 0.0, 1)
NAMES = ("kind", "mode", "text", "source", "seed", "hidden", "set_radius", "radius", "set_forget",
         "forget_bias", "unit")


def _ms(samples: list[float]) -> dict:
    arr = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p95_ms": round(float(np.percentile(arr, 95)), 1), "n": len(samples)}


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def handler_latencies(source: str, kind: str) -> dict:
    from components import recurrent_tab as tab

    settings = dict(zip(NAMES, SETTINGS), kind=kind, source=source)
    tab.on_reset(**settings, session=None)  # warm-up: torch import, asset load
    reset_s, out = _timed(tab.on_reset, **settings, session=None)
    stepper = out.stepper
    analysis_s, _ = _timed(tab.on_analysis, stepper, None)
    steps = []
    for _ in range(3):  # walk the whole sequence three times
        stepper = tab.on_reset(**settings, session=None).stepper
        for _ in SEQ:
            elapsed, view = _timed(tab.on_step, stepper, 1)
            stepper = view.stepper
            steps.append(elapsed)
    return {"step": _ms(steps), "reset_ms": round(reset_s * 1000, 1),
            "analysis_ms": round(analysis_s * 1000, 1)}


def training_speed(max_steps: int = 100) -> dict:
    import torch

    from playground.recurrent.memory_task import MemoryConfig, train_race

    # one thread, as in the app (app.py sets OMP_NUM_THREADS=1): on 2 busy cores torch's
    # default of one thread per core ran this race at 1.2 steps/s against 13 on one thread
    torch.set_num_threads(1)

    cfg = MemoryConfig(distractors=40, hidden_size=8, max_steps=max_steps, snapshot_every=max_steps)
    start = time.perf_counter()
    last = list(train_race(cfg, seed=0))[-1]
    seconds = time.perf_counter() - start
    return {"race_steps_per_s": round(last.step / seconds, 1), "race_N": 40, "race_hidden": 8,
            "race_batch": cfg.batch_size}


def run(base_url: str) -> dict:
    from gradio_client import Client

    client = Client(base_url, verbose=False)
    client.predict(*SETTINGS, api_name="/recurrent_reset")
    round_trip = []
    for _ in range(len(SEQ)):
        elapsed, _ = _timed(client.predict, 1, api_name="/recurrent_step")
        round_trip.append(elapsed)
    train_start = time.perf_counter()
    frames = list(client.submit(40, 8, 100, 0, True, api_name="/recurrent_train"))
    train_s = time.perf_counter() - train_start
    return {
        "server_side_random_lstm": handler_latencies("random", "lstm"),
        "server_side_trained_gru": handler_latencies("shipped", "gru"),
        "api_round_trip_step": _ms(round_trip),
        **training_speed(),
        "api_race_100_steps_s": round(train_s, 1), "api_race_updates": len(frames),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1]), indent=1))
