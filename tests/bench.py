"""Benchmark: prints JSON. Not part of the pytest run.

    python -m tests.bench            # everything
    python -m tests.bench --only app # just start-up and the tokenizer

Measures start-up against a bare two-tab Gradio app started in the same run, alternating
several starts of each and comparing medians (import gradio alone takes ~4 s on 2 cores);
the tokenizer's API latency alone and under 30 concurrent clients; peak RSS of the app
process; then every lab's ``tests/bench_*.py`` ``run(base_url)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = textwrap.dedent("""
    import gradio as gr
    with gr.Blocks() as demo:
        with gr.Tab("One"):
            gr.Textbox()
        with gr.Tab("Two"):
            gr.Button()
    demo.launch()
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1), "n": len(ms)}


class Server:
    """A child process serving an app; records seconds to first HTTP 200 and peak RSS."""

    def __init__(self, args: list[str]) -> None:
        self.port = free_port()
        env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.port),
                   GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
        # Start as a server normally does, from cached bytecode: some sandboxes set this, and
        # then every start compiles the app's ~60 modules again (the bare app has none).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        start = time.perf_counter()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.startup_s = self._wait_ready(start)
        self.peak_rss_mb = 0.0
        self._watching = True
        threading.Thread(target=self._watch_rss, daemon=True).start()

    def _wait_ready(self, start: float, timeout_s: float = 120) -> float:
        while time.perf_counter() - start < timeout_s:
            try:
                with urllib.request.urlopen(self.url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer within {timeout_s} s")

    def _watch_rss(self) -> None:
        process = psutil.Process(self.proc.pid)
        while self._watching:
            try:
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            except psutil.Error:
                return
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
            time.sleep(0.2)

    def stop(self) -> None:
        self._watching = False
        self.proc.terminate()
        self.proc.wait(timeout=30)


def tokenizer_latency(url: str, calls: int = 30) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    args = ("Attention is all you need, they said.", "sentence-transformers/all-MiniLM-L6-v2", 64)
    client.predict(*args, api_name="/tokenize")  # warm: loads the tokenizer
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        client.predict(*args, api_name="/tokenize")
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def concurrent_latency(url: str, clients: int = 30, calls_each: int = 3) -> dict:
    """30 students clicking at once: each its own gradio_client session."""
    from gradio_client import Client

    sessions = [Client(url, verbose=False) for _ in range(clients)]
    args = ("Thirty students tokenize at once.", "sentence-transformers/all-MiniLM-L6-v2", 64)

    errors = []

    def student(client: Client) -> list[float]:
        times = []
        for _ in range(calls_each):
            start = time.perf_counter()
            try:
                client.predict(*args, api_name="/tokenize")
                times.append(time.perf_counter() - start)
            except Exception as err:  # noqa: BLE001 - a timeout is a result to report
                errors.append(type(err).__name__)
        return times

    with ThreadPoolExecutor(clients) as pool:
        samples = [t for times in pool.map(student, sessions) for t in times]
    return {"clients": clients, "errors": len(errors), **percentiles(samples or [float("nan")])}


def startup_times(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to first HTTP 200 of the bare app and of ours, alternated so that a busy
    moment of the machine hits both alike; one start of each varies by up to 50 % here."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as bare_file:
        bare_file.write(BARE_APP)
    bare, ours = [], []
    try:
        for args in ([sys.executable, bare_file.name], [sys.executable, "app.py"]):
            Server(args).stop()  # a first start writes the bytecode caches
        for _ in range(runs):
            for args, times in (([sys.executable, bare_file.name], bare), ([sys.executable, "app.py"], ours)):
                server = Server(args)
                server.stop()
                times.append(server.startup_s)
    finally:
        os.unlink(bare_file.name)
    return bare, ours


def bench_app(startup_runs: int) -> dict:
    bare, ours = startup_times(startup_runs)
    app = Server([sys.executable, "app.py"])
    try:
        result = {
            "startup_s": round(statistics.median(ours), 2),
            "bare_gradio_startup_s": round(statistics.median(bare), 2),
            "startup_ratio_vs_bare": round(statistics.median(ours) / statistics.median(bare), 3),
            "startup_runs": {"app": [round(t, 2) for t in ours], "bare": [round(t, 2) for t in bare]},
            "tokenizer_api_latency": tokenizer_latency(app.url),
            "tokenizer_30_concurrent_clients": concurrent_latency(app.url),
        }
        result["labs"] = bench_labs(app.url)
        result["peak_rss_mb"] = round(app.peak_rss_mb, 1)
        return result
    finally:
        app.stop()


def bench_labs(url: str) -> dict:
    labs = {}
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if ONLY and name not in ONLY:
            continue
        try:
            labs[name] = importlib.import_module(f"tests.{path.stem}").run(url)
        except Exception as err:  # noqa: BLE001 - one lab's failure must not hide the others
            labs[name] = {"error": f"{type(err).__name__}: {err}"}
    return labs


ONLY: set[str] = set()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=[], help="lab names (bench_<name>.py) to run")
    parser.add_argument("--startup-runs", type=int, default=5,
                        help="starts of each app; the ratio is of their medians")
    args = parser.parse_args()
    ONLY.update(args.only)
    print(json.dumps(bench_app(args.startup_runs), indent=2))
