"""The attention tab: handlers, its API through gradio_client, and the browser with the
network blocked (bertviz must draw from installed packages only)."""

from __future__ import annotations

import gradio as gr
import pytest

# The core first: the tab binds it lazily (components.lazy), and a plain import of a
# module that is still lazy while torch is not yet loaded ends in a circular torch import.
from playground.transformer import attention as att  # isort: skip
from components import attention_tab as tab  # isort: skip
from playground.service.model_service import DEFAULT_ENCODER
from tests.conftest import assert_not_blank

PAIR_B = "It fell asleep on the pavement."


def test_ui_limits_match_the_core() -> None:
    assert (tab.UI_MAX_D_K, tab.UI_MAX_HEADS, tab.UI_MAX_CHARS) == (att.MAX_D_K, att.MAX_HEADS, att.MAX_CHARS)


def test_by_hand_returns_every_step() -> None:
    qkv, scores, weights, heads, output, notes, code = tab.on_hand(tab.EXAMPLE, "toy", 4, 3, True, 2, 1)
    assert len(qkv.data) == 3 and "Head 1" in qkv.layout.title.text
    w = weights.data[0].z
    assert abs(sum(w[0]) - 1) < 1e-5 and w[0][1] == 0  # causal: the first token sees only itself
    assert len(heads.data) == 3 and "random, untrained" in notes and "seed 2" in notes
    assert "scaled_dot_product_attention" in code and "is_causal=True" in code


def test_by_hand_clamps_head_and_refuses_bad_input() -> None:
    *_, notes, _ = tab.on_hand("a b c", "embeddings", 2, 2, False, 0, 7)
    assert "Head to inspect was set to 1" in notes
    for bad in ("", "   ", None):
        with pytest.raises(gr.Error):
            tab.on_hand(bad, "toy", 4, 2, False, 0, 0)
    with pytest.raises(gr.Error):
        tab.on_hand("a b", "toy", float("nan"), 2, False, 0, 0)
    with pytest.raises(gr.Error):
        tab.on_shuffle("word", "toy", 4, 2, 0)  # one token cannot be shuffled


def test_shuffle_shows_order_ignored_then_mattering() -> None:
    plain, with_pe, change, summary, code = tab.on_shuffle(tab.EXAMPLE, "toy", 8, 2, 1)
    without, withpos = change.data[0].y, change.data[1].y
    assert max(without) < 1e-5 < 0.05 < max(withpos)
    assert "Shuffled sentence" in summary and "sinusoidal" in code


def test_model_view_and_switching_reuse_one_forward_pass(monkeypatch) -> None:
    calls = []
    real_forward = att._forward
    monkeypatch.setattr(att, "_forward", lambda *a: calls.append(a) or real_forward(*a))
    text = "Switching heads must not run the model again, said the teacher."
    main, grid, entropy, table, notes, code, layer, head = tab.on_model(DEFAULT_ENCODER, text, "", 128, 9, 3)
    assert layer.maximum == 5 and layer.value == 5 and head.value == 3  # layer 9 clamped to the 6 layers
    assert "Layer 5, head 3" in main.layout.title.text and len(table) == 12
    assert "6 layers × 12 heads" in notes and "output_attentions=True" in code
    assert entropy.data[0].z.shape == (6, 12)
    for layer_index, head_index in [(0, tab.AVERAGE), (2, 7), (4, 0)]:
        main, table, code = tab.on_select(DEFAULT_ENCODER, text, "", 128, layer_index, head_index)
    assert "Layer 4, head 0" in main.layout.title.text
    assert len(calls) == 1


def test_model_long_text_is_truncated_and_told() -> None:
    main, *_, notes, _, _, _ = tab.on_model(DEFAULT_ENCODER, "token " * 10_000, "", 512, 0, tab.AVERAGE)
    assert "first 512" in notes and "first 64 of 512 tokens shown" in main.layout.title.text


@pytest.mark.parametrize("text", ["!!! ??? ...", "🙂🙃 emoji 🍕"])
def test_model_odd_input_is_sensible(text: str) -> None:
    main, *_ = tab.on_model(DEFAULT_ENCODER, text, "", 128, 0, 0)
    assert len(main.data[0].z) >= 3


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
