"""Classroom load (issue 16), run by ``python -m tests.bench --only classroom``; prints JSON.

Starts its own copy of the app (own cache folders, so that disk can be measured) and a bare
one-handler Gradio app, both on 127.0.0.1, and measures in one run:
- 30 gradio_client sessions x 3 calls of ``/tokenize``: p50/p95 against the bare app's under
  the same load, alternating the two apps (CPU speed drifts here within a minute);
- the same 30 while fine-tunes train on the app;
- event-loop lag: an async route GET every 100 ms through all of it (max, p95), including
  cancelled trainings and closed tabs;
- RSS (start, peak, end) and disk (app cache + Gradio cache) after 30 sessions came and went
  (each opened a tab heartbeat; some fine-tuned and saved a model).
Every loop is bounded in count and time; nothing leaves loopback.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

from tests.bench import Server, concurrent_latency, percentiles

CLIENTS, CALLS, ROUNDS = 30, 3, 2
TOKENIZE = ("Thirty students tokenize at once.", "sentence-transformers/all-MiniLM-L6-v2", 64)
TRAINING = ("sentence-transformers/all-MiniLM-L6-v2", "last", 1, 512, 3, 5e-4, 32, 8, 0, 300)
TINY_TRAINING = ("sentence-transformers/all-MiniLM-L6-v2", "head", 1, 16, 1, 1e-3, 16, 8, 0, 120)
BARE_APP = textwrap.dedent("""
    import gradio as gr
    def tokenize(text, model, n):
        return text.split()[: int(n)]
    with gr.Blocks() as demo:
        text, model, n, out = gr.Textbox(), gr.Textbox(), gr.Number(), gr.JSON()
        gr.Button().click(tokenize, [text, model, n], out, api_name="tokenize")
    demo.launch()
""")


class LagProbe:
    """GETs an async Gradio route (answered on the event loop) every 100 ms."""

    def __init__(self, url: str, max_s: float = 1800) -> None:
        self.url, self.max_s, self.samples = url + "gradio_api/user/", max_s, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        with httpx.Client(timeout=60) as http:
            while not self._stop.is_set() and time.monotonic() - start < self.max_s:
                tick = time.perf_counter()
                try:
                    http.get(self.url)
                except httpx.HTTPError:
                    pass
                self.samples.append(time.perf_counter() - tick)
                self._stop.wait(0.1)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"max_ms": round(max(self.samples) * 1000, 1), **percentiles(self.samples)}


def heartbeat(url: str, session_hash: str) -> socket.socket:
    """A browser tab's keep-alive; closing the socket is closing the tab."""
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    sock.sendall(f"GET /gradio_api/heartbeat/{session_hash} HTTP/1.1\r\nHost: {parsed.hostname}\r\n\r\n".encode())
    sock.recv(64)
    return sock


def folder_mb(*folders: Path) -> float:
    return round(sum(f.stat().st_size for folder in folders if folder.exists()
                     for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def rss_mb(server: Server) -> float:
    process = psutil.Process(server.proc.pid)
    return round((process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))) / 2**20, 1)


def sessions_come_and_go(url: str, clients: int = CLIENTS, trainers: int = 3) -> None:
    """Each session opens a tab, tokenizes; a few fine-tune and save; then every tab closes."""
    from gradio_client import Client

    def session(k: int) -> None:
        client = Client(url, verbose=False)
        tab = heartbeat(url, client.session_hash)
        try:
            client.predict(*TOKENIZE, api_name="/tokenize")
            if k < trainers:
                client.predict(*TINY_TRAINING, api_name="/finetune_train")
                client.predict(f"model-{k}", api_name="/finetune_save")
                client.predict(api_name="/finetune_zip")
        finally:
            tab.close()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(session, range(clients)))


def run(base_url: str) -> dict:  # noqa: ARG001 - this benchmark starts its own servers
    work = Path(tempfile.mkdtemp(prefix="np-bench-classroom-"))
    cache, gradio_tmp = work / "cache", work / "gradio"
    os.environ.update(NP_CACHE_DIR=str(cache), GRADIO_TEMP_DIR=str(gradio_tmp))  # read by the servers
    bare_file = work / "bare.py"
    bare_file.write_text(BARE_APP)
    bare, ours = Server([sys.executable, str(bare_file)]), Server([sys.executable, "app.py"])
    result: dict = {"clients": CLIENTS, "calls_each": CALLS}
    try:
        from gradio_client import Client

        Client(ours.url, verbose=False).predict(*TOKENIZE, api_name="/tokenize")  # loads the tokenizer
        probe = LagProbe(ours.url)
        idle = {"ours": [], "bare": []}
        for _ in range(ROUNDS):  # alternate: a busy moment of the machine hits both alike
            idle["ours"].append(concurrent_latency(ours.url, CLIENTS, CALLS))
            idle["bare"].append(concurrent_latency(bare.url, CLIENTS, CALLS))
        result["idle"] = idle
        result["idle_p95_ratio"] = round(sum(r["p95_ms"] for r in idle["ours"]) /
                                         sum(r["p95_ms"] for r in idle["bare"]), 2)
        # The same classroom while two fine-tunes train; then they are cancelled.
        trainers = [Client(ours.url, verbose=False) for _ in range(2)]
        jobs = [c.submit(*TRAINING, api_name="/finetune_train") for c in trainers]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not all(len(j.outputs()) >= 4 for j in jobs):
            time.sleep(0.5)
        busy = [concurrent_latency(ours.url, CLIENTS, CALLS), concurrent_latency(bare.url, CLIENTS, CALLS)]
        result["training"] = {"ours": busy[0], "bare": busy[1]}
        result["training_p95_vs_idle"] = round(busy[0]["p95_ms"] / max(r["p95_ms"] for r in idle["ours"]), 2)
        for job in jobs:
            job.cancel()
        time.sleep(5)
        # Thirty sessions come and go.
        rss_start, disk_start = rss_mb(ours), folder_mb(cache, gradio_tmp)
        sessions_come_and_go(ours.url)
        time.sleep(10)  # unload runs after each tab closes
        result["sessions"] = {"rss_start_mb": rss_start, "rss_end_mb": rss_mb(ours),
                              "rss_peak_mb": round(ours.peak_rss_mb, 1),
                              "disk_start_mb": disk_start, "disk_end_mb": folder_mb(cache, gradio_tmp),
                              "app_cache_end_mb": folder_mb(cache / "sessions")}
        result["event_loop_lag"] = probe.stop()
        return result
    finally:
        for server in (ours, bare):
            server.stop()
