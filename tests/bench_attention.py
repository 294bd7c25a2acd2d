"""Attention lab benchmark (issue 5): click → figure data for a 20-token sentence (target
p50 ≤ 150 ms warm, server side) and the bertviz HTML build (target ≤ 300 ms).

Server side = the tab's handlers called in this process, figures serialised to JSON as
Gradio does; the round trip through gradio_client against the running app is reported too.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

SENTENCE = "The quick brown fox jumps over the lazy dog while children watch from the old stone bridge."


def _timed(fn: Callable[[], object], repeats: int) -> dict:
    fn()  # warm: model loaded, forward pass cached
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 1),
            "n": len(samples)}


def _as_json(view) -> None:
    """Serialise the figures the way Gradio does before sending them."""
    for value in vars(view).values():
        if hasattr(value, "to_json"):
            value.to_json()


def run(base_url: str) -> dict:
    from components import attention_tab as tab
    from playground.transformer import attention as att
    from playground.hf.bertviz_offline import build_page
    from playground.service.model_service import DEFAULT_ENCODER

    n_tokens = len(att.model_attention(DEFAULT_ENCODER, SENTENCE).tokens)
    model_args = (DEFAULT_ENCODER, SENTENCE, "", 128, 2, 3)
    results = {
        "tokens": n_tokens,
        "model_click_to_figures": _timed(lambda: _as_json(tab.on_model(*model_args)), 20),
        "layer_head_switch": _timed(lambda: _as_json(tab.on_model(*model_args)), 20),  # cached pass
        "by_hand_click_to_figures": _timed(
            lambda: _as_json(tab.on_hand(SENTENCE, "embeddings", 8, 2, False, 0, 0)), 10),
        "bertviz_head_build": _timed(lambda: build_page("head", DEFAULT_ENCODER, SENTENCE), 10),
        "bertviz_model_build": _timed(lambda: build_page("model", DEFAULT_ENCODER, SENTENCE), 10),
        "bertviz_neuron_build": _timed(lambda: build_page("neuron", DEFAULT_ENCODER, SENTENCE), 3),
        "targets": {"model_click_to_figures_p50_ms": 150, "bertviz_build_ms": 300},
    }
    from gradio_client import Client

    client = Client(base_url, verbose=False)
    results["api_model_attention_round_trip"] = _timed(
        lambda: client.predict(*model_args, api_name="/model_attention"), 10)
    results["api_bertviz_head_round_trip"] = _timed(
        lambda: client.predict("head", *model_args, api_name="/bertviz"), 5)
    return results


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"), indent=2))
