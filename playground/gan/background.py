"""Training in a process of its own while the caller draws what the model looks like.

A live view does two jobs: train, and draw frames. Done in turn on one thread, every
frame drawn is training not done. A second thread is not enough either: the trainer
needs Python's GIL between its ~60 small kernels a step, and the web server holds it
while it draws and sends a frame, so the GAN lab trained at 580 steps/s while streaming
against 900 alone. A worker process has a GIL of its own: it trains on one core while the
server draws on the other.

The worker gets a copy of the run (pickled), trains it, and between steps (when the
weights are consistent) answers requests: ``trainer.call("snapshot")`` runs
``run.snapshot()`` there and returns the result. When training ends it sends the run back,
and the caller's run object takes over its state. So the caller's run is as it was at Play
until the end; ``call(run, method)`` reaches the live one wherever it is.

A trainer stops when its run is done, when ``halt(run)`` is called (Pause / Stop), after
``max_s`` seconds, or when nobody has asked for a snapshot for ``idle_s`` seconds: a
stream whose browser went away must not train on for minutes. Workers are started on
first use (a Python with torch takes seconds to start; ``warm_up`` starts one early) and
kept for the next run.

    python -m playground.gan.background FD [MODULE ...]   is a worker: it serves socket FD.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import itertools
import threading
import time
import weakref
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

S = TypeVar("S", covariant=True)
_HERE = object()  # a request's answer when training ended first: ask the caller's run
MAX_IDLE_WORKERS = 2  # kept for the next Play; more are ended when their run is
WORKER_NICENESS = 10  # a worker's CPU share, when it has to share, is ~1/10 of the server's


class Trainable(Protocol[S]):
    """A run a worker can train: picklable, with these three members."""

    @property
    def done(self) -> bool: ...

    def train(self, n_steps: int) -> int: ...

    def snapshot(self) -> S: ...


# Messages are plain pickles. Connection.send would use multiprocessing's pickler, to which
# torch adds shared-memory tensors that only a multiprocessing child can open.
def _send(conn: Connection, message: tuple) -> None:
    conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def _receive(conn: Connection) -> tuple:
    return pickle.loads(conn.recv_bytes())


# --- the caller's side ---------------------------------------------------------------------
class _Worker:
    """A worker process, the socket to it and the thread that reads what it sends."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])  # so that the worker imports playground
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "playground.gan.background", str(theirs.fileno()), *preload],
            pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.lock = threading.Lock()  # one message at a time; a run's end and a request don't cross
        self.job: BackgroundTraining | None = None
        threading.Thread(target=self._read, name="trainer-reader", daemon=True).start()

    def send(self, message: tuple) -> None:
        try:
            _send(self.conn, message)
        except OSError:  # the worker has gone: the reader reports it to the job
            pass

    def _read(self) -> None:
        while True:
            try:
                message = _receive(self.conn)
            except (EOFError, OSError):  # the worker ended: let go of it
                with self.lock:
                    job, self.job = self.job, None
                if job is not None:
                    job._end(None, RuntimeError("The training process stopped unexpectedly. Press Play to go on."))
                _pool.forget(self)
                self.conn.close()
                self.process.wait()
                return
            with self.lock:
                job = self.job
                if job is not None and message[0] == "final":
                    self.job = None
                    job._end(*message[1:])
                elif job is not None:
                    job._answer(*message[1:])
            if message[0] == "final":
                _pool.give_back(self)

    def close(self) -> None:
        self.send(("quit",))  # the worker ends, and the reader sees its socket close


class _Pool:
    """Idle workers, started on demand and kept for the next run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []

    def take(self, preload: tuple[str, ...]) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker
        return _Worker(preload)

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_WORKERS:
                self._idle.append(worker)
                return
        worker.close()

    def forget(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)

    def warm_up(self, preload: tuple[str, ...]) -> None:
        with self._lock:
            if self._idle:
                return
        self.give_back(self.take(preload))


_pool = _Pool()
_active: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # run → its trainer


def warm_up(preload: tuple[str, ...] = ()) -> None:
    """Start a worker now (importing ``preload``) unless one is idle: the first Play then
    doesn't wait for Python and torch to start."""
    _pool.warm_up(preload)


def call(run: Trainable, method: str, *args: Any) -> Any:
    """``run.<method>(*args)`` on the run as it is now: in its worker while it trains there."""
    trainer = _active.get(run)
    return trainer.call(method, *args) if trainer is not None else getattr(run, method)(*args)


def halt(run: Trainable) -> None:
    """Stop the background training of ``run``, if any, and wait until its state is back."""
    trainer = _active.get(run)
    if trainer is not None:
        trainer.stop()


class BackgroundTraining(Generic[S]):
    """``with BackgroundTraining(run) as trainer: ... trainer.snapshot() ...``; ``run`` has
    the trained state when the block ends (or ``finished`` is True)."""

    def __init__(self, run: Trainable[S], chunk_steps: int = 24, idle_s: float = 1.5,
                 max_s: float = 120.0, preload: tuple[str, ...] = ()) -> None:
        self.run, self.chunk_steps, self.idle_s, self.max_s = run, chunk_steps, idle_s, max_s
        self.preload = preload
        self._finished = threading.Event()
        self._pending: dict[int, Future] = {}  # requests sent, by number, waiting for answers
        self._numbers = itertools.count()
        self._error: BaseException | None = None
        self._worker: _Worker | None = None

    def __enter__(self) -> BackgroundTraining[S]:
        halt(self.run)  # one trainer per run: a second Play takes over from the first
        _active[self.run] = self
        self._worker = _pool.take(self.preload)
        with self._worker.lock:
            self._worker.job = self
            self._worker.send(("train", self.run, self.chunk_steps, self.idle_s, self.max_s))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        """Stop training and wait until the run's state is back here."""
        if self._worker is not None:
            with self._worker.lock:
                if not self._finished.is_set():
                    self._worker.send(("stop",))
            self._finished.wait()
        if _active.get(self.run) is self:
            del _active[self.run]

    def call(self, method: str, *args: Any) -> Any:
        """``run.<method>(*args)`` on the run as it is now: in the worker after its current
        few steps, or here once training has ended. Re-raises the training's error, if any."""
        answer: Future = Future()
        with self._worker.lock:
            if self._finished.is_set():
                answer.set_result(_HERE)
            else:
                number = next(self._numbers)
                self._pending[number] = answer
                self._worker.send(("call", number, method, args))
        value = answer.result()
        if value is not _HERE:
            return value
        if self._error is not None:
            raise self._error
        return getattr(self.run, method)(*args)

    def snapshot(self) -> S:
        return self.call("snapshot")

    # called by the worker's reader thread, holding the worker's lock
    def _answer(self, number: int, value: Any, error: BaseException | None) -> None:
        answer = self._pending.pop(number)
        if error is None:
            answer.set_result(value)
        else:
            answer.set_exception(error)

    def _end(self, trained: Any, error: BaseException | None) -> None:
        if trained is not None:
            self.run.__dict__.update(trained.__dict__)  # the caller's object, the worker's state
        self._error = error
        self._finished.set()
        for answer in self._pending.values():  # asked too late: answered here, from the state
            answer.set_result(_HERE)
        self._pending.clear()


# --- the worker's side ---------------------------------------------------------------------
def _train_watched(run: Trainable, conn: Connection, chunk_steps: int, idle_s: float,
                   max_s: float) -> None:
    """Train in chunks, answering requests between them, until a stop condition."""
    started = last_request = time.monotonic()
    while not run.done and time.monotonic() - started < max_s and time.monotonic() - last_request < idle_s:
        run.train(chunk_steps)
        while conn.poll():
            message = _receive(conn)
            if message[0] == "stop":
                return
            _, number, method, args = message
            value, error = None, None
            try:
                value = getattr(run, method)(*args)
            except Exception as err:  # noqa: BLE001 - raised again in the caller
                error = err
            _send(conn, ("result", number, value, error))
            last_request = time.monotonic()


def serve(conn: Connection) -> None:
    """Train each run sent, one at a time, and send it back; end when the caller has gone."""
    try:
        while True:
            message = _receive(conn)
            if message[0] == "quit":
                return
            if message[0] != "train":  # a request that crossed the end of the previous run
                continue
            _, run, chunk_steps, idle_s, max_s = message
            error = None
            try:
                _train_watched(run, conn, chunk_steps, idle_s, max_s)
            except (EOFError, OSError):
                raise
            except Exception as err:  # noqa: BLE001 - handed to the caller, who shows it
                error = err
            _send(conn, ("final", run, error))
    except (EOFError, OSError):  # the socket closed: the caller ended or let this worker go
        return


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the server; it ends us
    # Training is background work: when the cores are busy (two trainings, a classroom of
    # requests) the server's handlers go first, so that other tabs stay responsive.
    os.nice(WORKER_NICENESS)
    for module in sys.argv[2:]:
        importlib.import_module(module)
    serve(Connection(int(sys.argv[1])))
