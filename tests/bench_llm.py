"""LLM lab benchmark (issue 17), JSON.

- one next-token step with attention and logit lens for a 20-token prompt, server side
  (handler → figures → JSON, the forward pass not remembered): target p50 ≤ 300 ms on 2 cores;
- streamed generation for one student, in process and through the app: target ≥ 20 tokens/s;
- five students generating at once through the app (each its own gradio_client session):
  tokens/s each, and how long each waited for its first token;
- peak RSS added by loading the model and running it (target < 1.2 GB), the first
  conversion of the GGUF (into a fresh cache folder) and the cached load, each in a child
  process so that nothing is already loaded.

    python -m tests.bench --only llm
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = ("The old lighthouse keeper climbed the stairs every evening to light the lamp for the "
          "fishing boats out at")  # 19 tokens; one word more makes the 20-token prompt
ENDINGS = [" sea", " night", " dawn", " dusk", " last", " first", " home", " work", " rest", " play",
           " noon", " once", " least", " most", " best", " worst", " large"]
SETTINGS = (1.0, 0, 1.0, 0, -1, 6, True)  # temperature, top-k, top-p, seed, position, layer, attention
NEW_TOKENS = 64

MEMORY_CHILD = """
import json, resource, time
from playground.transformer import llm
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak_mb()
start = time.perf_counter()
loaded = llm.load_llm()
load_s = time.perf_counter() - start
ids = llm.encode_prompt(loaded.tokenizer, {prompt!r}, chat=False).ids
llm.forward_by_hand(loaded, ids, with_attention=True)
cfg, _ = llm.sampling(1.0, 0, 1.0, max_new_tokens=32)
list(llm.stream(loaded, ids, cfg))
print(json.dumps(dict(load_s=round(load_s, 2), peak_mb_before_load=round(base, 1),
                      peak_rss_extra_mb=round(peak_mb() - base, 1))))
"""

CONVERT_CHILD = """
import json, resource, time
from playground.service.model_service import SMOLLM2, ensure_converted, get_service
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
ensure_converted(get_service().resolve(SMOLLM2))
print(json.dumps(dict(first_conversion_s=round(time.perf_counter() - start, 1),
                      conversion_peak_rss_extra_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, 1))))
"""


def _percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1), "n": len(ms)}


def _child(code: str, cache_dir: str | None = None) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    if cache_dir:
        env["NP_CACHE_DIR"] = cache_dir
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode:
        return {"error": done.stderr[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_latency() -> dict:
    """The Next-token click on a new 20-token prompt each time (no remembered pass); the
    by-hand forward pass alone; and transformers' own forward pass with attentions and
    hidden states, in the same run, as the machine's yardstick."""
    import torch

    from components import llm_tab as tab
    from playground.transformer import llm

    loaded = llm.load_llm()
    handler, core, reference, lengths = [], [], [], set()
    for i, ending in enumerate(ENDINGS):
        start = time.perf_counter()
        view = tab.on_start(tab.SMOLLM2, PROMPT + ending, False, *SETTINGS)
        for value in view.outputs():
            if hasattr(value, "to_json"):
                value.to_json()
        elapsed = time.perf_counter() - start
        ids = view.run.ids
        start = time.perf_counter()
        llm.forward_by_hand(loaded, ids, with_attention=True)
        by_hand = time.perf_counter() - start
        start = time.perf_counter()
        with torch.inference_mode():
            loaded.model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)
        if i:  # the first warms up
            handler.append(elapsed)
            core.append(by_hand)
            reference.append(time.perf_counter() - start)
            lengths.add(len(ids))
    return {"prompt_tokens": sorted(lengths), "click_to_figures_json": _percentiles(handler),
            "forward_by_hand_only": _percentiles(core),
            "transformers_forward_same_prompt": _percentiles(reference)}


def _together(student, n: int) -> None:
    """Run ``student(k)`` for k < n on n threads at once and wait for all."""
    threads = [threading.Thread(target=student, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def stream_in_process(students: int) -> list[float]:
    """Tokens/s of each of ``students`` threads generating NEW_TOKENS at once."""
    from playground.transformer import llm

    loaded = llm.load_llm()
    ids = llm.encode_prompt(loaded.tokenizer, PROMPT, chat=False).ids
    rates = [0.0] * students

    def student(k: int) -> None:
        cfg, _ = llm.sampling(1.0, 0, 1.0, seed=k, max_new_tokens=NEW_TOKENS)
        start = time.perf_counter()
        count = sum(1 for _ in llm.stream(loaded, ids, cfg))
        rates[k] = round(count / (time.perf_counter() - start), 1)

    _together(student, students)
    return rates


def stream_through_app(base_url: str, students: int) -> list[dict]:
    """Each student: its own session, Next token, then Generate NEW_TOKENS (a streamed event)."""
    from gradio_client import Client

    clients = [Client(base_url, verbose=False) for _ in range(students)]
    for client in clients:
        client.predict("HuggingFaceTB/SmolLM2-135M-Instruct", PROMPT, False, *SETTINGS[:-1], False,
                       api_name="/llm_start")
    results: list[dict] = [{} for _ in range(students)]
    barrier = threading.Barrier(students)

    def student(k: int) -> None:
        barrier.wait()
        asked = time.perf_counter()
        job = clients[k].submit(NEW_TOKENS, 1.0, 0, 1.0, k, -1, 6, False, api_name="/llm_generate")
        stamps = [time.perf_counter() for _ in job]  # one per streamed update
        tokens = len(stamps) - 1  # the last update is the full redraw
        first, last = stamps[0], stamps[-2] if len(stamps) > 1 else stamps[0]
        results[k] = {"tokens": tokens, "wait_for_first_token_s": round(first - asked, 2),
                      "tokens_per_s_while_streaming": round((tokens - 1) / max(last - first, 1e-9), 1),
                      "total_s": round(stamps[-1] - asked, 2)}

    _together(student, students)
    return results


def run(base_url: str) -> dict:
    results: dict = {"load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="np-bench-convert-") as fresh:
        results.update(_child(CONVERT_CHILD, fresh))
    results.update(_child(MEMORY_CHILD.format(prompt=PROMPT)))
    results["cached_load_s"] = results.pop("load_s", None)
    results["step_with_attention_and_lens"] = step_latency()
    results["generation_one_student_in_process_tokens_per_s"] = stream_in_process(1)[0]
    results["generation_five_students_in_process_tokens_per_s"] = stream_in_process(5)
    results["generation_one_student_via_app"] = stream_through_app(base_url, 1)[0]
    results["generation_five_students_via_app"] = stream_through_app(base_url, 5)
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = {"step_p50_ms": 300, "tokens_per_s_one_student": 20, "peak_rss_extra_mb": 1229}
    return results


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"), indent=2))
