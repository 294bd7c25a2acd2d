"""Training on a thread of its own while the caller draws what the model looks like.

A live view does two jobs: train, and draw frames. Done in turn on one thread, every frame
drawn is training not done (a third of the GAN lab's time went to drawing). torch releases
Python's GIL inside its kernels, so a trainer thread keeps one core training while the
drawing thread uses the other. The trainer takes each snapshot itself, between steps, when
the weights are consistent, and hands it over on request.

A trainer stops when its run is done, when ``halt(run)`` is called (Pause / Stop), after
``max_s`` seconds, or when nobody has asked for a snapshot for ``idle_s`` seconds: a
stream whose browser went away must not train on for minutes.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Generic, Protocol, TypeVar

S = TypeVar("S", covariant=True)


class Trainable(Protocol[S]):
    @property
    def done(self) -> bool: ...

    def train(self, n_steps: int) -> int: ...

    def snapshot(self) -> S: ...


_active: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # run → its trainer


def halt(run: Trainable) -> None:
    """Stop the background training of ``run``, if any, and wait for its last step."""
    trainer = _active.get(run)
    if trainer is not None:
        trainer.stop()


@atexit.register
def _halt_all() -> None:
    """Stop every trainer before the interpreter exits: a daemon thread killed inside a
    torch kernel aborts the process ("terminate called without an active exception")."""
    for trainer in list(_active.values()):
        trainer.stop()


class BackgroundTraining(Generic[S]):
    """``with BackgroundTraining(run) as trainer: ... trainer.snapshot() ...``"""

    def __init__(self, run: Trainable[S], chunk_steps: int = 24, idle_s: float = 1.5,
                 max_s: float = 120.0) -> None:
        self.run, self.chunk_steps, self.idle_s, self.max_s = run, chunk_steps, idle_s, max_s
        self._wanted = threading.Event()  # the drawer waits for a snapshot
        self._ready = threading.Event()  # ... and here it is (or the trainer ended)
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._snapshot: S | None = None
        self._error: BaseException | None = None
        self._last_contact = time.monotonic()  # of the drawer: its last request or delivery
        self._thread = threading.Thread(target=self._train, name="background-training", daemon=True)

    def __enter__(self) -> BackgroundTraining[S]:
        halt(self.run)  # one trainer per run: a second Play takes over from the first
        _active[self.run] = self
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if _active.get(self.run) is self:
            del _active[self.run]

    def snapshot(self) -> S:
        """The run as it is now: taken by the trainer after its current few steps, or read
        directly once the trainer has ended. Re-raises the trainer's error, if it had one."""
        self._last_contact = time.monotonic()
        self._ready.clear()
        self._wanted.set()
        if not self._finished.is_set():  # checked after clear(): a trainer ending now sets _ready
            self._ready.wait()
        if self._error is not None:
            raise self._error
        if self._finished.is_set():
            return self.run.snapshot()
        return self._snapshot

    def _drawer_gone(self) -> bool:
        return not self._wanted.is_set() and time.monotonic() - self._last_contact > self.idle_s

    def _train(self) -> None:
        started = time.monotonic()
        try:
            while not (self._stopping.is_set() or self.run.done or time.monotonic() - started > self.max_s
                       or self._drawer_gone()):
                self.run.train(self.chunk_steps)
                if self._wanted.is_set():
                    self._snapshot = self.run.snapshot()
                    self._last_contact = time.monotonic()
                    self._wanted.clear()
                    self._ready.set()
        except BaseException as err:  # noqa: BLE001 - handed to the drawing thread
            self._error = err
        finally:
            self._finished.set()
            self._ready.set()
