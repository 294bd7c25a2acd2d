"""Background training in a worker process: snapshots between steps, the trained state
coming back, and every way a trainer stops."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from playground.gan import background
from playground.gan.background import BackgroundTraining, halt


class Counter:
    """A run whose 'weights' are two numbers that a half-done step would leave unequal."""

    def __init__(self, max_steps: int = 10**9, fail_at: int | None = None) -> None:
        self.a = self.b = self.step = 0
        self.max_steps, self.fail_at = max_steps, fail_at

    @property
    def done(self) -> bool:
        return self.step >= self.max_steps

    def train(self, n_steps: int) -> int:
        for _ in range(n_steps):
            if self.step == self.fail_at:
                raise FloatingPointError("diverged")
            self.a += 1
            time.sleep(1e-4)
            self.b += 1
            self.step += 1
        return n_steps

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.step, self.a, self.b, os.getpid()


def test_snapshots_come_from_another_process_between_steps_and_the_state_comes_back():
    run = Counter()
    with BackgroundTraining(run, chunk_steps=3) as trainer:
        snaps = [trainer.snapshot() for _ in range(20)]
        assert run.step == 0  # the worker trains its own copy meanwhile
    assert all(step == a == b for step, a, b, _ in snaps)
    assert snaps[-1][0] > snaps[0][0] > 0
    worker = {pid for *_, pid in snaps}.pop()
    assert worker != os.getpid()
    assert psutil.Process(worker).nice() == min(19, os.nice(0) + background.WORKER_NICENESS)  # the server first
    assert run.step == run.a == run.b >= snaps[-1][0]  # leaving the block brought it back


def test_a_finished_run_is_read_here_and_the_worker_is_reused():
    run = Counter(max_steps=7)
    with BackgroundTraining(run, chunk_steps=2) as trainer:
        worker_pid = trainer.snapshot()[3]
        while not trainer.finished:
            trainer.snapshot()
        assert trainer.snapshot() == (8, 8, 8, os.getpid())  # chunks of 2: the last overshoots to 8
    with BackgroundTraining(Counter(), chunk_steps=2) as trainer:
        assert trainer.snapshot()[3] == worker_pid  # no second start of Python


def test_halt_stops_the_trainer_of_a_run_and_brings_its_state_back():
    run = Counter()
    with BackgroundTraining(run) as trainer:
        seen = trainer.snapshot()[0]
        halt(run)
        assert trainer.finished
        assert run.step >= seen > 0


def test_nobody_watching_stops_training_and_the_state_still_comes_back():
    run = Counter()
    with BackgroundTraining(run, idle_s=0.1) as trainer:
        trainer.snapshot()
        time.sleep(0.5)
        assert trainer.finished and run.step > 0


def test_the_trainers_error_reaches_the_drawer():
    with BackgroundTraining(Counter(fail_at=5), chunk_steps=2) as trainer:
        with pytest.raises(FloatingPointError, match="diverged"):
            for _ in range(100):
                trainer.snapshot()


def test_a_worker_that_dies_is_reported_not_waited_for():
    with BackgroundTraining(Counter()) as trainer:
        os.kill(trainer.snapshot()[3], signal.SIGKILL)
        with pytest.raises(RuntimeError, match="stopped unexpectedly"):
            for _ in range(100):
                trainer.snapshot()


def test_warm_up_starts_the_worker_the_next_run_trains_in():
    while background._pool._idle:  # begin with no idle worker
        background._pool._idle.pop().close()
    background.warm_up()
    background.warm_up()  # one idle worker is enough
    assert len(background._pool._idle) == 1
    warmed = background._pool._idle[0].process.pid
    with BackgroundTraining(Counter()) as trainer:
        assert trainer.snapshot()[3] == warmed


def test_a_worker_beyond_the_idle_ones_is_ended():
    runs = [Counter() for _ in range(background.MAX_IDLE_WORKERS + 1)]
    trainers = [BackgroundTraining(run).__enter__() for run in runs]
    pids = {trainer.snapshot()[3] for trainer in trainers}
    assert len(pids) == len(runs)  # one worker each: none was busy
    for trainer in trainers:
        trainer.stop()
    deadline = time.monotonic() + 10  # an ending Python with torch loaded takes a moment
    while len({pid for pid in pids if _alive(pid)}) > background.MAX_IDLE_WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len({pid for pid in pids if _alive(pid)}) == background.MAX_IDLE_WORKERS



def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_call_reaches_the_live_run_in_its_worker_and_here_after():
    run = Counter()
    assert background.call(run, "snapshot")[3] == os.getpid()  # not training: here
    with BackgroundTraining(run) as trainer:
        step, *_, pid = background.call(run, "snapshot")
        assert pid != os.getpid() and step > 0
        with pytest.raises(TypeError):  # a failed call reaches the caller; training goes on
            background.call(run, "train", "many")
        assert trainer.snapshot()[0] > step
    assert background.call(run, "snapshot")[3] == os.getpid()
