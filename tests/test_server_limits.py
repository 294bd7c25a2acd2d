"""A server a class can share (issue 16), tried on the live app on 127.0.0.1: a cancelled
fine-tune never freezes the event loop, uploads over the limit are refused, Gradio's file
cache is cleaned, and a session that ends leaves neither files nor memory behind."""

from __future__ import annotations

import gc
import socket
import threading
import time
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import wait_until
import torch

from components import theme
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, get_service

LONG_RUN = [DEFAULT_ENCODER, "full", 1, 512, 5, 5e-5, 64, 16, 0, 300]  # minutes of training
TINY_RUN = [DEFAULT_ENCODER, "head", 1, 16, 1, 1e-3, 16, 8, 0, 120]


class LoopProbe:
    """GETs an async route (it runs on Gradio's event loop) every 100 ms; records latencies."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + "gradio_api/user/"
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as http:
            while not self._stop.is_set():
                start = time.perf_counter()
                http.get(self.url)
                self.latencies.append(time.perf_counter() - start)
                self._stop.wait(0.1)

    def __enter__(self) -> LoopProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Heartbeat:
    """What a browser tab keeps open; closing it is closing the tab (Gradio then runs unload)."""

    def __init__(self, base_url: str, session_hash: str) -> None:
        url = urlparse(base_url)
        self.sock = socket.create_connection((url.hostname, url.port))
        self.sock.sendall(f"GET /gradio_api/heartbeat/{session_hash} HTTP/1.1\r\n"
                          f"Host: {url.hostname}\r\n\r\n".encode())
        assert b"200" in self.sock.recv(64)

    def close(self) -> None:
        self.sock.close()


def live_tensor_mb() -> float:
    """Megabytes of tensor storage reachable from Python objects (shared storages once)."""
    gc.collect()
    storages = {}
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj.device.type != "meta":
                storage = obj.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, ReferenceError):
            continue
    return sum(storages.values()) / 2**20


def test_launch_sets_an_upload_limit_and_cleans_gradios_cache():
    import app

    assert theme.launch_options()["max_file_size"] == theme.MAX_FILE_SIZE == "10mb"
    frequency, age = app.demo.delete_cache
    assert (frequency, age) == theme.DELETE_CACHE and age <= 900 and frequency <= 300


def test_an_upload_over_the_limit_is_refused_over_http(app_url):
    too_big = b"x" * (11 * 2**20)
    response = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.csv", too_big, "text/csv")},
                          timeout=120)
    assert response.status_code == 413, response.text[:200]
    small = httpx.post(app_url + "gradio_api/upload", files={"files": ("ok.csv", b"text,label\n", "text/csv")},
                       timeout=120)
    assert small.status_code == 200


def test_cancelling_a_fine_tune_never_freezes_the_server(app_url):
    """Issue 16: the cancelled stream's finally joined the worker on the event loop (7-12 s)."""
    from gradio_client import Client

    student = Client(app_url, verbose=False)
    job = student.submit(*LONG_RUN, api_name="/finetune_train")
    assert wait_until(lambda: ft.session_run(student.session_hash) is not None, 300)
    run = ft.session_run(student.session_hash)
    assert wait_until(lambda: run.last is not None and run.last.step >= 1, 900)  # training under way
    assert not job.done()
    with LoopProbe(app_url) as probe:
        time.sleep(1)
        job.cancel()
        time.sleep(6)  # the old join lasted 7-12 s
    assert max(probe.latencies) < 1.0, sorted(probe.latencies)[-5:]
    assert wait_until(lambda: not run.running, 180)  # the worker ended by itself
    assert run.model is None  # and freed its model copy


def test_a_session_that_ends_leaves_no_files_and_no_model_behind(app_url):
    """Closing the tab (the heartbeat) runs unload: the folder goes and the ~90 MB run is freed,
    although Gradio keeps a closed session's gr.State for an hour."""
    from gradio_client import Client

    student = Client(app_url, verbose=False)
    tab = Heartbeat(app_url, student.session_hash)
    student.predict("movies", "rotten_tomatoes", "text", "label", "imdb", DEFAULT_ENCODER, 16,
                    api_name="/finetune_data")
    get_service().load(DEFAULT_ENCODER, "AutoModel")  # the shared encoder stays loaded either way
    before = live_tensor_mb()
    status = student.predict(*TINY_RUN, api_name="/finetune_train")[0]
    assert "Finished" in status
    assert "finetuned/leaving" in student.predict("leaving", api_name="/finetune_save")[0]
    folder = get_service().session_dir(student.session_hash)
    assert (folder / "models" / "leaving").is_dir()
    assert live_tensor_mb() > before + 50  # the run's model copy (22.7 M weights)
    tab.close()
    assert wait_until(lambda: not folder.exists(), 60)
    assert "finetuned/leaving" not in get_service().available_ids("text-classification", student.session_hash)
    assert wait_until(lambda: live_tensor_mb() < before + 20, 60), (before, live_tensor_mb())


@pytest.mark.parametrize("saves", [4])
def test_a_fourth_save_in_one_session_replaces_the_oldest(app_url, saves):
    from gradio_client import Client

    student = Client(app_url, verbose=False)
    student.predict(*TINY_RUN, api_name="/finetune_train")
    messages = [student.predict(f"model-{k}", api_name="/finetune_save")[0] for k in range(saves)]
    assert "was deleted to make room" in messages[-1] and "finetuned/model-0" in messages[-1]
    kept = {f.name for f in ft.saved_models(student.session_hash)}
    assert kept == {"model-1", "model-2", "model-3"}
    ft.end_session(student.session_hash)
