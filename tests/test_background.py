"""Background training: snapshots between steps, and every way a trainer stops."""

from __future__ import annotations

import time

import pytest

from playground.background import BackgroundTraining, halt


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

    def snapshot(self) -> tuple[int, int, int]:
        return self.step, self.a, self.b


def test_snapshots_are_taken_between_steps_and_training_goes_on():
    run = Counter()
    with BackgroundTraining(run, chunk_steps=3) as trainer:
        snaps = [trainer.snapshot() for _ in range(20)]
    assert all(step == a == b for step, a, b in snaps)
    assert snaps[-1][0] > snaps[0][0] > 0
    stopped_at = run.step
    time.sleep(0.05)
    assert run.step == stopped_at  # leaving the block stopped the trainer


def test_a_finished_run_is_read_directly():
    run = Counter(max_steps=7)
    with BackgroundTraining(run, chunk_steps=2) as trainer:
        while not trainer.finished:
            trainer.snapshot()
        assert trainer.snapshot() == (8, 8, 8)  # chunks of 2: the last one overshoots to 8


def test_halt_stops_the_trainer_of_a_run():
    run = Counter()
    with BackgroundTraining(run) as trainer:
        trainer.snapshot()
        halt(run)
        assert trainer.finished
        stopped_at = run.step
        time.sleep(0.05)
        assert run.step == stopped_at


def test_nobody_watching_stops_training():
    run = Counter()
    with BackgroundTraining(run, idle_s=0.1) as trainer:
        trainer.snapshot()
        time.sleep(0.4)
        assert trainer.finished


def test_the_trainers_error_reaches_the_drawer():
    with BackgroundTraining(Counter(fail_at=5), chunk_steps=2) as trainer:
        with pytest.raises(FloatingPointError, match="diverged"):
            for _ in range(100):
                trainer.snapshot()
