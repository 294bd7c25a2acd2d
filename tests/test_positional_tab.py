"""The positional-encoding tab: handlers called directly (including bad input), the API
through gradio_client, and the tab in a real browser."""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np
import pytest

from components import positional_tab as T
from components.predict import Tally
from tests.conftest import assert_not_blank, run_lab_notebook
from tests.test_tokenization import run_panel


def _z(fig) -> np.ndarray:
    return np.asarray(fig.data[0]["z"], dtype=float)


# --- handlers ---------------------------------------------------------------------------------
def test_sinusoidal_handler_draws_every_cell_of_a_small_table():
    heat, curves, wave, clocks, note, code = T.on_sinusoidal(64, 100, 10000, "0, 1, 62")
    z = _z(heat)
    assert z.shape == (100, 64)
    assert z[0, 1] == pytest.approx(1.0) and z[1, 0] == pytest.approx(np.sin(1), abs=1e-6)
    assert [t["name"].split(" (")[0] for t in curves.data] == ["dim 0", "dim 1", "dim 62"]
    assert "√(d_model/2) = 5.657" in note and "Drawn" not in note
    assert "length, d_model, base = 100, 64, 10000" in code
    steps = clocks.layout["sliders"][0]["steps"]  # the clock slider restyles the hands, position by position
    position = int(steps[1]["label"])  # pair 0's hand tip is (sin, cos) of the position
    assert len(steps) > 10 and steps[1]["args"][0]["y"][0][1] == pytest.approx(np.cos(position), abs=1e-4)


def test_sinusoidal_handler_clamps_extremes_and_thins_what_it_draws():
    heat, _, wave, _, note, _ = T.on_sinusoidal(5000, 99999, 1e9, "0, 1")
    assert "d_model was set to 1024" in note and "Max length was set to 2048" in note
    assert "Base was set to 100000" in note and "Drawn: 256 × 205 of 2048 × 1024" in note
    z = _z(heat)
    assert z.shape == (256, 205)
    # Thinned columns alternate sin and cos: row 0 is sin(0) = 0, cos(0) = 1.
    assert set(np.round(z[0, :4], 6)) == {0.0, 1.0}
    _, _, _, _, tiny_note, _ = T.on_sinusoidal(-3, 0, 10000, "0")
    assert "d_model was set to 2" in tiny_note and "Max length was set to 1" in tiny_note


@pytest.mark.parametrize("args", [(float("nan"), 10, 10000, "0"), (8, "ten", 10000, "0"),
                                  (8, 10, 10000, "zero, one"), (8, 10, None, "0")])
def test_sinusoidal_handler_bad_input_is_a_clear_error(args):
    with pytest.raises(gr.Error):
        T.on_sinusoidal(*args)


def test_dimensions_outside_the_model_are_dropped_with_a_note():
    dims, notes = T.parse_dims("3; 9 200 -1 3", 16)
    assert dims == [3, 9] and "left out" in notes[0]
    assert T.parse_dims("", 16)[0] == [0, 1]
    assert len(T.parse_dims(",".join(map(str, range(12))), 16)[0]) == T.MAX_DIMS


def test_similarity_handler_shows_distance_only_structure_and_the_rotation():
    heat, profile, shift, matrix, note, code = T.on_similarity(32, 80, 10000, "cosine", 10, 5)
    z = _z(heat)
    assert z.shape == (80, 80) and np.allclose(np.diag(z), 1.0, atol=1e-5)
    assert np.allclose(np.diag(z, 3), z[0, 3], atol=1e-5)  # constant along each diagonal
    curves = np.array([np.asarray(t["y"], dtype=float) for t in profile.data])
    assert np.allclose(curves, curves[0], atol=1e-4, equal_nan=True)
    direct, rotated = (np.asarray(t["y"], dtype=float) for t in shift.data)
    assert np.allclose(direct, rotated, atol=1e-5)
    assert _z(matrix)[0, 2] == 0 and "PE(15) = M_5·PE(10)" in note and "length, d_model, base, k, pos = 80, 32, 10000, 5, 10" in code


def test_similarity_handler_clamps_and_refuses():
    *_, note, _ = T.on_similarity(7, 20, 10000, "dot", 500, 500)
    assert "d_model = 6" in note and "Position was set to 18" in note
    with pytest.raises(gr.Error, match="dot' or 'cosine"):
        T.on_similarity(8, 20, 10000, "manhattan", 1, 1)
    with pytest.raises(gr.Error, match="at least 2 positions"):
        T.on_similarity(8, 1, 10000, "dot", 0, 1)


def test_rope_handler_diagonals_are_constant_and_added_pe_is_not():
    rope_heat, add_heat, rope_prof, add_prof, note, code = T.on_rope(16, 30, 10000, 4)
    rope, added = _z(rope_heat), _z(add_heat)
    assert np.allclose(np.diag(rope, 2), rope[0, 2], atol=1e-5)
    assert not np.allclose(np.diag(added, 2), added[0, 2], atol=1e-2)
    assert "changes a score by at most" in note and "manual_seed(4)" in code
    *_, odd_note, _ = T.on_rope(15, 10, 10000, 0)
    assert "d_model = 14" in odd_note


def test_alibi_handler_masks_the_future_and_clamps_heads():
    bias, attention, reach, note, code = T.on_alibi(100, 10, 20, True)
    assert "Heads was set to 16" in note and "Head was set to 16" in note
    z = _z(bias)
    assert z[5, 2] == pytest.approx(-3 / 256, rel=1e-5)  # head 16 of 16: slope 2^-8, distance 3
    assert np.isnan(np.triu(z, 1)[np.triu_indices(10, 1)]).all()
    weights = _z(attention)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert len(reach.data) == 16 and "masked_fill" in code
    sym_bias, *_ = T.on_alibi(2, 5, 1, False)
    assert np.allclose(_z(sym_bias), _z(sym_bias).T)


def test_learned_handler_shows_minilm_next_to_sinusoidal():
    figures = T.on_learned(100, 10000, "cosine", False)
    learned_heat, sin_heat, learned_sim, sin_sim, learned_pca, sin_pca, note, code = figures
    assert _z(learned_heat).shape == (100, 128) and _z(sin_heat).shape == (100, 128)
    assert np.allclose(np.diag(_z(learned_sim)), 1.0, atol=1e-5)
    colours = np.asarray(learned_pca.data[1]["marker"]["color"])
    assert np.array_equal(colours, np.arange(100))  # coloured by position index
    assert "position 0" in note and "position_embeddings" in code
    three_d = T.on_learned(50, 10000, "dot", True)
    assert three_d[4].data[0]["type"] == "scatter3d"


# --- lessons: every "Try this" of the tab, through the tab's own handlers ---------------------
def _curve(curves, dim: int) -> np.ndarray:
    trace = next(t for t in curves.data if t["name"].startswith(f"dim {dim} "))
    return np.asarray(trace["y"], dtype=float)


def test_lesson_positional_fast_pair_tells_neighbours_slow_pair_tells_far_positions():
    *_, = T.on_sinusoidal(128, 512, 10000, "0, 1, 60, 61")
    curves = T.on_sinusoidal(128, 512, 10000, "0, 1, 60, 61")[1]
    fast = np.stack([_curve(curves, 0), _curve(curves, 1)], 1)
    slow = np.stack([_curve(curves, 60), _curve(curves, 61)], 1)
    assert np.linalg.norm(fast[4] - fast[3]) > 0.5 > 0.05 > np.linalg.norm(slow[4] - slow[3])
    assert np.linalg.norm(slow[400] - slow[300]) > 0.5


def _wavelengths(wave) -> np.ndarray:
    return np.concatenate([np.asarray(t["y"], dtype=float) for t in wave.data[:2]])


def test_lesson_positional_base_100_makes_the_slowest_pair_repeat_within_2048():
    slow_at_10000 = _wavelengths(T.on_sinusoidal(128, 2048, 10000, "0")[2]).max()
    slow_at_100 = _wavelengths(T.on_sinusoidal(128, 2048, 100, "0")[2]).max()
    assert slow_at_10000 > 50_000 and 500 < slow_at_100 < 2048
    assert "wavelength" in T.TRY_THIS[1] and "2048" in T.TRY_THIS[1]


@pytest.mark.parametrize("measure", ["dot", "cosine"])
def test_lesson_positional_similarity_curves_from_four_starts_coincide(measure):
    _, profile, *_ = T.on_similarity(128, 512, 10000, measure, 10, 5)
    curves = np.array([np.asarray(t["y"], dtype=float) for t in profile.data])
    assert len(curves) == 4 and np.allclose(curves, curves[0], atol=1e-4, equal_nan=True)
    assert "Pick any start position" not in " ".join(T.TRY_THIS)


@pytest.mark.parametrize("pos, k", [(0, 1), (10, 5), (300, 77), (1000, 1000)])
def test_lesson_positional_one_matrix_shifts_every_position(pos, k):
    _, _, shift, _, note, _ = T.on_similarity(128, 2048, 10000, "dot", pos, k)
    direct, rotated = (np.asarray(t["y"], dtype=float) for t in shift.data)
    assert np.allclose(direct, rotated, atol=1e-5)
    error = float(note.split("positions: ")[1].split(")")[0])
    assert error < 1e-5 and f"PE({pos + k}) = M_{k}·PE({pos})" in note


def test_lesson_positional_learned_positions_turn_like_a_clock_hand():
    *_, learned_pca, _, note, _ = T.on_learned(512, 10000, "cosine", False)
    xy = np.stack([np.asarray(learned_pca.data[1]["x"]), np.asarray(learned_pca.data[1]["y"])], 1)[1:]
    turn = np.degrees(np.abs(np.angle(np.exp(1j * np.diff(np.arctan2(xy[:, 1], xy[:, 0]))))))
    assert np.median(turn) > 20 and f"turns about {np.median(turn):.0f}°" in note
    radius = np.linalg.norm(xy, axis=1)
    assert radius.std() / radius.mean() < 0.5  # a ring round the origin, not a cloud through it


@pytest.mark.parametrize("seed", range(5))
def test_lesson_positional_rope_diagonals_constant_for_every_seed(seed):
    rope_heat, add_heat, *_ = T.on_rope(64, 64, 10000, seed)
    rope, added = _z(rope_heat), _z(add_heat)
    for offset in (0, 3, 17):
        assert np.allclose(np.diag(rope, offset), rope[0, offset], atol=1e-4)
    assert np.abs(np.diag(added, 3) - added[0, 3]).max() > 0.1


def test_lesson_positional_alibi_last_head_sees_far_back():
    _, first, *_ = T.on_alibi(8, 32, 1, True)
    _, last, *_ = T.on_alibi(8, 32, 8, True)
    far_first, far_last = _z(first)[-1, :16].sum(), _z(last)[-1, :16].sum()  # the 16 oldest keys
    assert far_last > 0.3 > 0.01 > far_first


# --- code panels: plain torch, run in a fresh folder, offline; their numbers are the screen's ----
def _printed(lines: list[str], name: str) -> list[float]:
    line = next(line for line in lines if line.startswith(name))
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", line[len(name):])]


@pytest.mark.parametrize("d_model, length, base", [(64, 100, 10000), (30, 300, 100)])
def test_code_panel_positional_sinusoidal(tmp_path, d_model, length, base):
    _, _, wave, _, note, code = T.on_sinusoidal(d_model, length, base, "0")
    lines = run_panel(code, tmp_path)
    assert _printed(lines, "longest wavelength")[0] == pytest.approx(_wavelengths(wave).max(), rel=1e-4)
    norm = _printed(lines, "max row norm")[0]
    assert f"measured max {norm:.3f}" in note


@pytest.mark.parametrize("measure, pos, k", [("dot", 10, 5), ("cosine", 40, 20)])
def test_code_panel_positional_similarity(tmp_path, measure, pos, k):
    heat, _, _, _, note, code = T.on_similarity(32, 80, 10000, measure, pos, k)
    lines = run_panel(code, tmp_path)
    z = _z(heat)
    first, at_pos = _printed(lines, "sim(0, 1) =")[0], _printed(lines, "sim(0, 1) =")[-1]
    assert first == pytest.approx(z[0, 1], abs=1e-3) and at_pos == pytest.approx(z[pos, pos + 1], abs=1e-3)
    assert _printed(lines, "largest error")[0] < 1e-5 and "largest error over all" in note


@pytest.mark.parametrize("n_positions", [100, 512])
def test_code_panel_positional_learned(tmp_path, n_positions):
    *_, learned_pca, _, note, code = T.on_learned(n_positions, 10000, "cosine", False)
    lines = run_panel(code, tmp_path)
    assert f"position 0 (always [CLS]) has norm {_printed(lines, 'norm of position 0')[0]:.2f}" in note
    explained = _printed(lines, "variance explained by 2 axes")[0]
    title_pcs = [float(t) for t in re.findall(r"\((\d+)% of variance\)", learned_pca.layout["xaxis"]["title"]["text"]
                                               + learned_pca.layout["yaxis"]["title"]["text"])]
    assert explained * 100 == pytest.approx(sum(title_pcs), abs=1.5)


@pytest.mark.parametrize("d_head, length, seed", [(64, 64, 0), (16, 30, 4)])
def test_code_panel_positional_rope(tmp_path, d_head, length, seed):
    rope_heat, *_, code = T.on_rope(d_head, length, 10000, seed)
    lines = run_panel(code, tmp_path)
    z = _z(rope_heat)
    printed = _printed(lines, "scores[0, 1] =")
    assert printed[0] == pytest.approx(z[0, 1], abs=1e-3) and printed[-1] == pytest.approx(z[1, 2], abs=1e-3)


@pytest.mark.parametrize("n_heads, head, causal", [(8, 8, True), (12, 10, False), (6, 5, True)])
def test_code_panel_positional_alibi(tmp_path, n_heads, head, causal):
    _, attention, _, note, code = T.on_alibi(n_heads, 20, head, causal)
    lines = run_panel(code, tmp_path)
    slopes = _printed(lines, "slopes")
    assert "Slopes of the" in note and note.count(",") >= n_heads - 1
    from playground.transformer.positional import alibi_slopes
    assert np.allclose(slopes, alibi_slopes(n_heads).numpy(), atol=1e-4)  # the paper's recipe, both
    far = _printed(lines, "last query -> first key, per head")
    assert far[head - 1] == pytest.approx(_z(attention)[-1, 0], abs=1e-4)


# --- API ---------------------------------------------------------------------------------------
def _plot_json(output) -> dict:
    """gradio_client returns a Plot as {"type": "plotly", "plot": "<json>"}."""
    return json.loads(output["plot"])


def test_api_sinusoidal_and_rope(client):
    heat, curves, wave, clocks, note, code = client.predict(512, 512, 10000, "0, 1", api_name="/positional_sinusoidal")
    assert "Drawn: 256 × 171 of 512 × 512" in note
    assert _plot_json(curves)["data"][0]["name"].startswith("dim 0")
    *_, rope_note, _ = client.predict(64, 64, 10000, 0, api_name="/positional_rope")
    assert "changes a score by at most" in rope_note
    with pytest.raises(Exception, match="whole numbers"):
        client.predict(64, 64, 10000, "x, y", api_name="/positional_sinusoidal")


# --- browser ------------------------------------------------------------------------------------
def _legend(page, elem_id: str) -> list[str]:
    return page.page.locator(f"#{elem_id} .legendtext").all_text_contents()  # SVG: no innerText


def test_browser_sinusoidal_dims_and_rope(page):
    # ?tab=: the app's on-load event selects a tab; a click made before it returns is undone.
    page.open(f"?tab={T.TAB_ID}")
    page.open_tab(T.TAB_ID)
    page.page.locator("#pos-sin-heat .js-plotly-plot").wait_for(timeout=60_000)  # plotly.js is big
    assert _legend(page, "pos-sin-curves")[0].startswith("dim 0")
    box = page.page.locator("#pos-dims textarea, #pos-dims input").first
    box.fill("3, 7")
    box.press("Enter")
    page.page.wait_for_function(
        "() => [...document.querySelectorAll('#pos-sin-curves .legendtext')].some(e => e.textContent.startsWith('dim 7'))",
        timeout=30_000)
    length = page.page.locator("#pos-length input[type=number]")
    length.fill("2000")
    length.press("Enter")
    page.page.get_by_text("Drawn: 250 × 128 of 2000 × 128").wait_for(timeout=30_000)
    assert_not_blank(page.screenshot("positional"))
    page.page.get_by_role("tab", name="4 · RoPE").click()
    page.page.locator("#pos-rope-heat .hm, #pos-rope-heat .heatmaplayer image").first.wait_for(
        state="attached", timeout=30_000)
    assert_not_blank(page.screenshot("positional-rope"))
    assert not page.console_errors
    assert not page.outside_requests


# --- wiring: one listener per shared slider, redrawing only the open section that reads it -------
def _shared_listeners() -> dict:
    import functools

    import app

    return {d.fn.args[1].elem_id: d.fn for d in app.demo.fns.values()
            if isinstance(d.fn, functools.partial) and d.fn.func is T.on_shared_change}


def test_shared_slider_redraws_only_the_open_section_that_reads_it():
    listeners = _shared_listeners()
    assert sorted(listeners) == ["pos-base", "pos-d-model", "pos-length"]
    wiring = listeners["pos-base"].args[0]
    values = [c.value for c in wiring.inputs[1:]]
    assert listeners["pos-d-model"]("pos-learned", *values) == {}  # the learned table has no d_model
    redrawn = listeners["pos-base"]("pos-learned", *values)
    assert list(redrawn) == wiring.sections["pos-learned"].outputs
    sin = listeners["pos-d-model"]("pos-sin", *values)
    assert list(sin) == wiring.sections["pos-sin"].outputs and "√(d_model/2)" in sin[wiring.sections["pos-sin"].outputs[4]]


# --- notebooks: every code panel's "Download notebook", run in a kernel from an empty folder ------
def run_notebook(code: str, section: str, tmp_path) -> list[str]:
    """The panel's notebook for these settings, run top to bottom; the lines it printed."""
    out = run_lab_notebook(code, T.NOTEBOOK_TITLES[section], T.LESSON_MD, tmp_path, must_cite="Vaswani")
    return out.strip().splitlines()


def test_code_panel_positional_sinusoidal_notebook(tmp_path):
    _, _, wave, _, note, code = T.on_sinusoidal(30, 300, 100, "0")
    lines = run_notebook(code, "pos-sin", tmp_path)
    assert _printed(lines, "longest wavelength")[0] == pytest.approx(_wavelengths(wave).max(), rel=1e-4)
    assert f"measured max {_printed(lines, 'max row norm')[0]:.3f}" in note


def test_code_panel_positional_similarity_notebook(tmp_path):
    heat, _, _, _, note, code = T.on_similarity(32, 80, 10000, "cosine", 40, 20)
    lines = run_notebook(code, "pos-sim", tmp_path)
    printed = _printed(lines, "sim(0, 1) =")
    assert printed[0] == pytest.approx(_z(heat)[0, 1], abs=1e-3) and printed[-1] == pytest.approx(_z(heat)[40, 41], abs=1e-3)
    assert _printed(lines, "largest error")[0] < 1e-5 and "largest error over all" in note


def test_code_panel_positional_learned_notebook(tmp_path):
    *_, note, code = T.on_learned(100, 10000, "cosine", False)
    lines = run_notebook(code, "pos-learned", tmp_path)
    assert f"position 0 (always [CLS]) has norm {_printed(lines, 'norm of position 0')[0]:.2f}" in note


def test_code_panel_positional_rope_notebook(tmp_path):
    rope_heat, *_, code = T.on_rope(16, 30, 10000, 4)
    printed = _printed(run_notebook(code, "pos-rope", tmp_path), "scores[0, 1] =")
    z = _z(rope_heat)
    assert printed[0] == pytest.approx(z[0, 1], abs=1e-3) and printed[-1] == pytest.approx(z[1, 2], abs=1e-3)


def test_code_panel_positional_alibi_notebook(tmp_path):
    _, attention, _, _, code = T.on_alibi(12, 20, 10, False)
    far = _printed(run_notebook(code, "pos-alibi", tmp_path), "last query -> first key, per head")
    assert far[9] == pytest.approx(_z(attention)[-1, 0], abs=1e-4)


# --- predict, then reveal: the answer comes from the encodings -------------------------------------
@pytest.mark.parametrize("measure", ["dot", "cosine"])
@pytest.mark.parametrize("d_model, pos, k, answer", [
    (128, 10, 5, "PE(pos + 1), the neighbour"),  # many clock hands: similarity falls with distance
    (2, 10, 44, "PE(pos + k)"),  # one hand, 44 steps = 7.0 turns: back almost where it started
    (4, 0, 44, "PE(pos + k)"),
    (64, 30, 1, "Both the same"),  # k = 1: the same position twice
])
def test_question_positional_neighbour_answer_follows_the_settings(measure, d_model, pos, k, answer):
    verdict, tally = T.on_reveal_neighbour(answer, d_model, 128, 10000, measure, pos, k, Tally())
    assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
    heat, *_ = T.on_similarity(d_model, 128, 10000, measure, pos, k)  # what the heat-map draws
    z = _z(heat)
    assert f"PE({pos + 1}) is **{z[pos, pos + 1]:.3f}**" in verdict and f"**{z[pos, pos + k]:.3f}**." in verdict
    wrong = next(choice for choice in T.NEIGHBOUR_CHOICES.values() if choice != answer)
    verdict, tally = T.on_reveal_neighbour(wrong, d_model, 128, 10000, measure, pos, k, Tally())
    assert verdict.startswith("❌") and f"**{answer}**" in verdict and tally.right == 0


def test_question_positional_neighbour_before_a_prediction_and_clamped_settings():
    assert T.on_reveal_neighbour(None, 128, 128, 10000, "dot", 10, 5, Tally()) == ("", Tally())
    verdict, _ = T.on_reveal_neighbour("PE(pos + k)", 2, 20, 10000, "dot", 500, 500, Tally())  # pos 18, k 1
    assert "PE(18) with PE(19)" in verdict and "Both the same" in verdict
    with pytest.raises(gr.Error, match="dot' or 'cosine"):
        T.on_reveal_neighbour("PE(pos + k)", 8, 20, 10000, "manhattan", 1, 1, Tally())


def test_lesson_positional_one_clock_hand_comes_round():
    """Try this: d_model 2 and k 44 make PE(pos + 44) more like PE(pos) than the neighbour."""
    assert "d_model to 2" in T.TRY_THIS[3] and "k to 44" in T.TRY_THIS[3]
    heat, *_ = T.on_similarity(2, 128, 10000, "dot", 10, 44)
    z = _z(heat)
    assert z[10, 54] > 0.99 > 0.6 > z[10, 11] and 44 / (2 * np.pi) == pytest.approx(7, abs=0.01)
