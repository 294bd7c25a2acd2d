"""Benchmark of the positional-encoding tab (called by tests/bench.py with a running app).

Issue 6 target: p50 ≤ 100 ms server-side for d_model=512, length=512. Measures each
section through the API (round trip, includes queue and HTTP), and the handler in this
process including the JSON encoding Gradio does (the server-side part), as wall time and as
this process's CPU time (which a machine shared with other jobs inflates less). The
learned section is timed cold (may load MiniLM) and warm."""

from __future__ import annotations

import time

from tests.bench import percentiles


def _api_seconds(client, name: str, args: tuple) -> float:
    start = time.perf_counter()
    client.predict(*args, api_name=f"/{name}")
    return time.perf_counter() - start


def _server_side(handler, args: tuple) -> tuple[float, float]:
    """(wall s, CPU s) of the handler plus the figure → JSON step Gradio's Plot.postprocess runs."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for out in handler(*args):
        if hasattr(out, "to_json"):
            out.to_json()
    return time.perf_counter() - start, time.process_time() - start_cpu


def _server_stats(handler, args: tuple, repeats: int) -> dict:
    handler(*args)  # warm up
    wall, cpu = zip(*[_server_side(handler, args) for _ in range(repeats)])
    return {**percentiles(list(wall)), "cpu_p50_ms": percentiles(list(cpu))["p50_ms"]}


CASES = {  # api name: arguments at the size (d_model=512, length=512)
    "positional_sinusoidal": (512, 512, 10000, "0, 1, 64, 65"),
    "positional_similarity": (512, 512, 10000, "dot", 10, 5),
    "positional_rope": (64, 256, 10000, 0),
    "positional_alibi": (8, 256, 1, True),
}


def run(base_url: str, repeats: int = 20) -> dict:
    from gradio_client import Client

    from components import positional_tab as T

    handlers = {"positional_sinusoidal": T.on_sinusoidal, "positional_similarity": T.on_similarity,
                "positional_rope": T.on_rope, "positional_alibi": T.on_alibi}
    client = Client(base_url, verbose=False)
    result: dict = {}
    for name, args in CASES.items():
        result[f"{name}_server"] = _server_stats(handlers[name], args, repeats)
        result[f"{name}_api"] = percentiles([_api_seconds(client, name, args) for _ in range(repeats)])
    result["positional_sinusoidal_2048x1024_server"] = _server_stats(T.on_sinusoidal, (1024, 2048, 10000, "0"), 5)
    learned = (512, 10000, "cosine", False)
    result["positional_learned_first_api_ms"] = round(_api_seconds(client, "positional_learned", learned) * 1000)
    result["positional_learned_api"] = percentiles([_api_seconds(client, "positional_learned", learned)
                                                    for _ in range(5)])
    return result
