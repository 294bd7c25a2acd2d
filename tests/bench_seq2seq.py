"""Benchmark of the encoder–decoder tab against a running app (called by tests/bench.py).

Measures: latency of one decoding step (greedy and beam 4) through the API, the
accuracy-by-length comparison (first call and cached), step latency with 10 requests in
flight at once, and the live-training speed (steps/s)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ATTN = "With attention (Bahdanau)"


def _ms(samples: list[float]) -> dict:
    arr = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "n": len(samples)}


def _timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 20)))


def run(base_url: str) -> dict:
    from gradio_client import Client

    client = Client(base_url, verbose=False)
    rng = random.Random(0)
    greedy = [_timed(client.predict, "reverse", ATTN, _word(rng), "Greedy", 1, api_name="/seq2seq_step")
              for _ in range(20)]
    beam = [_timed(client.predict, "dates", ATTN, f"{rng.randint(1, 28)} Nov {rng.randint(1950, 2049)}",
                   "Beam search", 4, api_name="/seq2seq_step") for _ in range(20)]
    compare_first = _timed(client.predict, "sort", api_name="/seq2seq_compare")
    compare_cached = _timed(client.predict, "sort", api_name="/seq2seq_compare")

    def one_request(k: int) -> float:  # one client, ten jobs in flight at once
        job = lambda: client.submit("reverse", ATTN, _word(random.Random(k)), "Greedy", 1,  # noqa: E731
                                    api_name="/seq2seq_step").result()
        return _timed(job)

    with ThreadPoolExecutor(10) as pool:
        concurrent = list(pool.map(one_request, range(10)))
    start = time.perf_counter()
    frames = list(client.submit("reverse", ATTN, 100, 8, 0, api_name="/seq2seq_train"))
    train_s = time.perf_counter() - start
    return {
        "step_greedy": _ms(greedy), "step_beam4": _ms(beam),
        "compare_first_ms": round(compare_first * 1000), "compare_cached_ms": round(compare_cached * 1000),
        "step_10_concurrent": _ms(concurrent),
        "live_train_steps_per_s": round(100 / train_s, 1), "live_train_updates": len(frames),
    }
