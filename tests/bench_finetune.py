"""Benchmark of the fine-tuning lab (called by tests/bench.py with a running app).

- The lab's default run (the numbers its text states): wall seconds, held-out accuracy and
  both baselines.
- Fine-tuning throughput (training examples/s, evaluation excluded) of the core for
  head-only, last layer and full fine-tuning, on 256 Rotten Tomatoes reviews, max length
  64, batch 16, in this process; plus the wall time of each run and its held-out accuracy.
- The API end to end: a head-only run of 64 examples through ``/finetune_train`` (wall
  seconds, first streamed update) and ``/finetune_data`` latency p50/p95.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

N_TRAIN = 256
API_REPEATS = 5


def _core_runs() -> dict:
    from playground.hf import datasets_view as dv
    from playground.hf import finetune as ft

    data = dv.load_movie_reviews("rotten_tomatoes")
    base = ft.FinetuneConfig(n_train=N_TRAIN, n_eval=64, max_length=64, batch_size=16, epochs=1,
                             max_seconds=300)
    start = time.perf_counter()
    run = ft.FinetuneRun(replace(ft.FinetuneConfig(), max_seconds=300), data, "bench-default")
    last = list(run.train())[-1]
    out = {"default_run": {"run_s": round(time.perf_counter() - start, 1), "stop_reason": last.stop_reason,
                           "held_out_accuracy": round(float(last.eval_accuracy[-1]), 3),
                           "frozen_embedding_baseline": round(last.baselines.frozen_embedding, 3),
                           "majority_baseline": round(last.baselines.majority, 3)}}
    ft.end_session(run.session)
    for mode, lr in ft.MODE_LEARNING_RATES.items():
        cfg = replace(base, train_mode=mode, learning_rate=lr)
        start = time.perf_counter()
        run = ft.FinetuneRun(cfg, data, f"bench-{mode}")
        last = list(run.train())[-1]
        out[mode] = {"examples_per_s": round(last.examples_per_s, 1),
                     "run_s": round(time.perf_counter() - start, 1),
                     "trainable_weights": run.trainable,
                     "held_out_accuracy": round(float(last.eval_accuracy[-1]), 3)}
        ft.end_session(run.session)
    return out


def _api(base_url: str) -> dict:
    from gradio_client import Client

    from playground.service.model_service import DEFAULT_ENCODER

    client = Client(base_url, verbose=False)
    data_args = ("movies", "rotten_tomatoes", "text", "label", "imdb", DEFAULT_ENCODER, 64)
    client.predict(*data_args, api_name="/finetune_data")  # warm-up: parses the CSV once
    latencies = []
    for _ in range(API_REPEATS):
        start = time.perf_counter()
        client.predict(*data_args, api_name="/finetune_data")
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    job = client.submit(DEFAULT_ENCODER, "head", 1, 64, 1, 1e-3, 64, 16, 0, 300, api_name="/finetune_train")
    first = None
    while not job.done():
        if first is None and job.outputs():
            first = time.perf_counter() - start
        time.sleep(0.05)
    job.result()
    ms = np.asarray(latencies) * 1000
    return {"data_p50_ms": round(float(np.percentile(ms, 50)), 1),
            "data_p95_ms": round(float(np.percentile(ms, 95)), 1),
            "train_64_head_first_update_s": round(first or 0.0, 2),
            "train_64_head_total_s": round(time.perf_counter() - start, 2)}


def run(base_url: str) -> dict:
    return {"core": _core_runs(), "api": _api(base_url)}
