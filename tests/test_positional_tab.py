"""The positional-encoding tab: handlers called directly (including bad input), the API
through gradio_client, and the tab in a real browser."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest

from components import positional_tab as T
from tests.conftest import assert_not_blank


def _z(fig) -> np.ndarray:
    return np.asarray(fig.data[0].z, dtype=float)


# --- handlers ---------------------------------------------------------------------------------
def test_sinusoidal_handler_draws_every_cell_of_a_small_table():
    heat, curves, wave, clocks, note, code = T.on_sinusoidal(64, 100, 10000, "0, 1, 62")
    z = _z(heat)
    assert z.shape == (100, 64)
    assert z[0, 1] == pytest.approx(1.0) and z[1, 0] == pytest.approx(np.sin(1), abs=1e-6)
    assert [t.name.split(" (")[0] for t in curves.data] == ["dim 0", "dim 1", "dim 62"]
    assert "√(d_model/2) = 5.657" in note and "Drawn" not in note
    assert "length, d_model, base = 100, 64, 10000" in code
    steps = clocks.layout.sliders[0].steps  # the clock slider restyles the hands, position by position
    position = int(steps[1].label)  # pair 0's hand tip is (sin, cos) of the position
    assert len(steps) > 10 and steps[1].args[0]["y"][0][1] == pytest.approx(np.cos(position), abs=1e-4)


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
    curves = np.array([np.asarray(t.y, dtype=float) for t in profile.data])
    assert np.allclose(curves, curves[0], atol=1e-4, equal_nan=True)
    direct, rotated = (np.asarray(t.y, dtype=float) for t in shift.data)
    assert np.allclose(direct, rotated, atol=1e-5)
    assert _z(matrix)[0, 2] == 0 and "PE(15) = M_5·PE(10)" in note and "sinusoidal(80, 32" in code


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
    assert "changes a score by at most" in note and "torch.manual_seed(4)" in code
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
    colours = np.asarray(learned_pca.data[1].marker.color)
    assert np.array_equal(colours, np.arange(100))  # coloured by position index
    assert "position 0" in note and "position_embeddings" in code
    three_d = T.on_learned(50, 10000, "dot", True)
    assert three_d[4].data[0].type == "scatter3d"


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
