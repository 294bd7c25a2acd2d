"""The GANs tab: handlers called directly (including bad input), the API through
gradio_client (start training, frames arrive, stop) and a real browser."""

from __future__ import annotations

import itertools
import time

import gradio as gr
import numpy as np
import pytest

from components import gan_tab as tab
from playground.gan.config import PRESETS
from tests.conftest import assert_not_blank

HEALTHY = [getattr(PRESETS["Healthy training"].config, name) for name in tab.SETTINGS]


def settings(**changes) -> list:
    values = dict(zip(tab.SETTINGS, HEALTHY))
    values.update(changes)
    return [values[name] for name in tab.SETTINGS]


def test_preset_loads_every_setting_and_explains_itself():
    out = tab.on_preset("Mode collapse")
    assert len(out) == len(tab.SETTINGS) + 1
    assert out[tab.SETTINGS.index("lr_g")] == 5e-3 and "Mode collapse" in out[-1]
    with pytest.raises(gr.Error):
        tab.on_preset("Make it work")


def test_reset_play_step_stop():
    lab, field, losses, distance, status, code = tab.on_reset(tab.DEFAULT_POINTS, *settings(max_steps=60))
    assert "step 0 / 60" in status and "Distance to the data" in status
    assert [t["type"] for t in field.data] == ["heatmap", "scatter", "scatter", "scatter"]
    assert "torch.optim.Adam" in code and "range(60)" in code
    frames = list(itertools.islice(tab.on_play(lab, False, tab.DEFAULT_POINTS, *settings(max_steps=60)), 50))
    assert frames[-1][0].run.step == 60 and "Finished" in frames[-1][4]
    lab, *_ = tab.on_step(lab, tab.DEFAULT_POINTS, *settings(max_steps=60))
    assert lab.run.step == 1 and "new run" in _[3]  # the finished run was replaced
    lab, status = tab.on_stop(lab)
    assert lab.stopped and "Stopped" in status
    slow = next(tab.on_play(lab, True, tab.DEFAULT_POINTS, *settings(max_steps=60)))
    assert slow[0].run.step == 1  # slow motion: one step per frame, in a new run after Stop


def test_play_trains_in_a_worker_and_pause_brings_the_run_back_to_go_on_from():
    lab = tab.on_reset(tab.DEFAULT_POINTS, *settings(max_steps=20_000))[0]
    stream = tab.on_play(lab, False, tab.DEFAULT_POINTS, *settings(max_steps=20_000))
    first, second = next(stream), next(stream)
    assert first[0] is lab and second[0] == gr.skip()  # the state goes once, not every frame
    assert "steps/s" in second[4]
    paused = tab.on_pause(lab)
    paused_at = lab.run.step
    assert paused_at > 0 and "Paused" in paused and f"step {paused_at:,} /" in paused  # state is back
    stream.close()
    again = tab.on_play(lab, False, tab.DEFAULT_POINTS, *settings(max_steps=20_000))
    resumed = next(again)
    assert resumed[0] is lab  # the same run, continued
    assert paused_at < int(resumed[4].split("step ")[1].split(" /")[0].replace(",", ""))  # goes on
    again.close()


def test_bad_input_is_refused_or_clamped_with_a_message():
    with pytest.raises(gr.Error, match="NaN"):
        tab.on_reset(tab.DEFAULT_POINTS, *settings(lr_g=float("nan")))
    with pytest.raises(gr.Error, match="at least 3 points"):
        tab.on_reset("1, 2", *settings(target="custom"))
    status = tab.on_reset(tab.DEFAULT_POINTS, *settings(lr_d=1e9, d_width=0, max_steps=10**7))[4]
    assert status.count("was set to") == 3
    with pytest.raises(gr.Error):
        tab.on_reset(tab.DEFAULT_POINTS, *settings()[:-1])


def test_a_diverged_run_is_reported_not_drawn():
    lab = tab.on_reset(tab.DEFAULT_POINTS, *settings(max_steps=50))[0]
    lab.run.G.flat[0] = float("inf")
    lab, field, _, _, status, _ = tab.on_step(lab, tab.DEFAULT_POINTS, *settings(max_steps=50))
    assert "Diverged" in status and "Diverged" in field.layout["title"]["text"]
    assert not any(trace["type"] == "heatmap" for trace in field.data)


def test_custom_drawing_and_digits_handlers():
    canvas = np.full((64, 64, 4), 255, np.uint8)
    canvas[20:44, 30:34, :3] = 0
    text, target = tab.on_sketch({"composite": canvas})
    assert target == "custom" and len(text.splitlines()) > 10
    run, grid, losses, quality, status = tab.on_digits_checkpoint()
    assert "checkpoint" in status and "of the samples as the digit asked for" in status
    strip = tab.on_interpolate(run, "3", 1, "8", 5)
    assert "digit 3" in strip.layout["title"]["text"]
    run2, *_, status2 = tab.on_digits_reset(True, 1e-3, 32, 30, 0)
    assert "random init" in status2
    frames = list(itertools.islice(tab.on_digits_play(run2, True, 1e-3, 32, 30, 0), 40))
    assert frames[-1][0].step == 30
    with pytest.raises(gr.Error):
        tab.on_digits_reset(True, float("nan"), 32, 30, 0)


def test_interpolating_during_play_walks_the_generator_being_trained():
    run = tab.on_digits_reset(True, 1e-3, 32, 5000, 0)[0]
    before = tab.on_interpolate(run, "3", 1, "8", 5).data[0]["z"]
    stream = tab.on_digits_play(run, True, 1e-3, 32, 5000, 0)
    for _ in range(4):
        next(stream)
    during = tab.on_interpolate(run, "3", 1, "8", 5).data[0]["z"]
    assert run.step == 0  # this copy waits for Play's end; the worker's has moved on
    assert not np.array_equal(during, before)
    stream.close()
    assert run.step > 0  # closing the stream brought the trained state back


def test_api_streams_frames_and_stops(client):
    preset = client.predict("Healthy training", api_name="/gan_preset")
    assert len(preset) == len(tab.SETTINGS) + 1
    reset = client.predict(tab.DEFAULT_POINTS, *settings(), api_name="/gan_reset")
    assert "step 0" in reset[3]
    job = client.submit(False, tab.DEFAULT_POINTS, *settings(max_steps=20_000), api_name="/gan_play")
    deadline = time.monotonic() + 60
    while len(job.outputs()) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    frames = job.outputs()
    job.cancel()
    assert len(frames) >= 4, "frames did not arrive"
    steps = [int(f[3].split("step ")[1].split(" /")[0].replace(",", "")) for f in frames]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    interp = client.predict("2", 1, "5", 3, api_name="/gan_digits_interpolate")
    assert interp


def open_gan_tab(page) -> None:
    """Open the tab; on a busy machine the first click can land before the page listens."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        try:
            page.open_tab(tab.TAB_ID)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def wait_for_text(page, selector: str, text: str, timeout: int = 60_000) -> None:
    page.page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
        arg=[selector, text], timeout=timeout)


def test_browser_trains_live_and_stops(page):
    page.open()
    open_gan_tab(page)
    page.page.locator("#gan-reset").click()
    wait_for_text(page, "#gan-status", "Ready")
    # Slow motion (3 frames a second) keeps a software-rendered headless browser responsive
    # on a loaded CI machine; the API test above checks the full-speed stream.
    page.page.locator("#gan-slow input").check(force=True)
    page.page.locator("#gan-play").click()
    wait_for_text(page, "#gan-status", "Training")
    first = page.page.locator("#gan-status").inner_text()
    time.sleep(2)
    assert page.page.locator("#gan-status").inner_text() != first  # frames keep arriving
    page.page.locator("#gan-stop").dispatch_event("click")  # no scroll/settle wait: plots are redrawing
    wait_for_text(page, "#gan-status", "Stopped")
    assert page.page.locator("#gan-field .js-plotly-plot").count() == 1
    assert_not_blank(page.screenshot("gan-2d"))
    page.page.get_by_role("tab", name="Digits (8×8 images)").click()
    wait_for_text(page, "#gan-digits-status", "checkpoint")
    page.page.locator("#gan-digits-walk").click()
    page.page.locator("#gan-digits-strip .js-plotly-plot").wait_for(timeout=30_000)
    assert_not_blank(page.screenshot("gan-digits"))
    assert not page.console_errors
    assert not page.outside_requests
