"""Benchmark of the Pipelines tab (called by tests/bench.py with a running app).

For each task that runs offline, the same inputs go (1) straight into
``transformers.pipeline`` on the same model objects, (2) through the tab's handler in
this process (validation, model service, result conversion, figures, code) and (3)
through the running app's API. Reports p50/p95 latencies and the app's overhead over
the direct pipeline call: ``handler_overhead_pct`` (the app's own work; target ≤ 10 %)
and ``api_overhead_pct`` (plus HTTP and the queue)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

REVIEWS = [
    "An absolute delight from start to finish, with a brilliant cast.",
    "A dull, lifeless mess; I walked out after an hour.",
    "The plot is thin, but the music and the visuals are stunning.",
    "the jokes fall flat and the story goes nowhere .",
    "a gripping , beautifully acted thriller .",
    "Worst film I have seen this year, and I have seen many.",
    "Charming, funny and surprisingly moving.",
    "It is long, loud and forgettable.",
] * 2  # 16 lines: a typical class batch
SENTENCES = ["A man is playing a guitar.", "Someone is playing an instrument.",
             "The stock market fell sharply today.", "Share prices dropped a lot.",
             "A cat is sleeping on the sofa.", "The kitten naps on the couch."]
N = 15


def _ms(samples: list[float]) -> dict:
    arr = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p95_ms": round(float(np.percentile(arr, 95)), 1), "n": len(samples)}


def _times(*fns: Callable[[], Any], n: int = N) -> list[list[float]]:
    """Seconds per call of each function, called in turn n times after a warm-up (which
    loads the model and builds the pipeline once): alternating, so that this machine's
    drifting speed hits every function alike."""
    for fn in fns:
        fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for fn, samples in zip(fns, out):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return out


def _digit_image() -> np.ndarray:
    from sklearn.datasets import load_digits

    digit = load_digits().images[-1]  # (8, 8) 0..16
    return np.kron(255 - digit * 255 / 16, np.ones((28, 28))).astype(np.uint8)  # dark ink on white


def _cases() -> dict[str, tuple[tuple, Callable[[], Any]]]:
    """task → (handler args, the direct pipeline call on the same model and inputs)."""
    from transformers import pipeline

    from playground.hf import vit_digits as digits_vit
    from playground.hf import pipelines as pl
    from playground.service.model_service import DEFAULT_ENCODER, get_service

    service = get_service()
    sentiment = service.load(pl.SENTIMENT_MODEL, "AutoModelForSequenceClassification")
    encoder = service.load(DEFAULT_ENCODER, "AutoModel")
    gpt = service.load(pl.GPT2_MODEL, "AutoModelForCausalLM")
    vit = service.load(pl.DIGITS_MODEL, "AutoModelForImageClassification", eager_attention=True)
    classify = pipeline("sentiment-analysis", model=sentiment.model, tokenizer=sentiment.tokenizer)
    extract = pipeline("feature-extraction", model=encoder.model, tokenizer=encoder.tokenizer)
    generate = pipeline("text-generation", model=gpt.model, tokenizer=gpt.tokenizer)
    images = pipeline("image-classification", model=vit.model, image_processor=vit.image_processor)
    digit = _digit_image()
    digit_8x8 = digits_vit.values_to_image(digits_vit.preprocess_drawing(digit).values)
    labels = ["sports", "politics", "technology"]
    zero_shot_inputs = SENTENCES + [f"This text is about {label}." for label in labels]
    gen_kwargs = dict(max_new_tokens=25, do_sample=False)
    text = "\n".join
    return {
        "sentiment-analysis": (("sentiment-analysis", pl.SENTIMENT_MODEL, text(REVIEWS)),
                               lambda: classify(REVIEWS, top_k=None, truncation=True)),
        "feature-extraction": (("feature-extraction", DEFAULT_ENCODER, text(SENTENCES)),
                               lambda: extract(SENTENCES, return_tensors=True)),
        "zero-shot-classification": (("zero-shot-classification", DEFAULT_ENCODER, text(SENTENCES)),
                                     lambda: extract(zero_shot_inputs, return_tensors=True)),
        "text-generation": (("text-generation", pl.GPT2_MODEL, "this movie is"),
                            lambda: generate("this movie is", **gen_kwargs)),
        "image-classification": (("image-classification", pl.DIGITS_MODEL, ""),
                                 lambda: images(digit_8x8, top_k=10)),
    }


def run(base_url: str) -> dict:
    from gradio_client import Client

    from components import pipelines_tab as tab

    client = Client(base_url, verbose=False)
    results: dict[str, Any] = {}
    for task, (args, direct) in _cases().items():
        image = {"composite": _digit_image()} if task == "image-classification" else None
        # temperature 0: greedy, so the app and the direct call generate the same 25 tokens
        handler_args = (*args, "sports, politics, technology", "This text is about {}.", 25, 0.0, 40,
                        0.95, 0, image, None)
        api_args = [*handler_args[:-2], None, _upload(image) if image else None]  # images go as a file
        direct_t, handler_t, api_t = _times(direct, lambda: tab.on_run(*handler_args),
                                            lambda: client.predict(*api_args, api_name="/run_pipeline"))
        d, h, a = np.median(direct_t), np.median(handler_t), np.median(api_t)
        results[task] = {
            "direct_pipeline": _ms(direct_t), "app_handler": _ms(handler_t), "api": _ms(api_t),
            "handler_overhead_pct": round(100 * (h - d) / d, 1),
            "api_overhead_pct": round(100 * (a - d) / d, 1),
        }
    return results


def _upload(image: dict) -> Any:
    import tempfile

    from gradio_client import handle_file
    from PIL import Image

    path = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    Image.fromarray(image["composite"]).save(path)
    return handle_file(path)
