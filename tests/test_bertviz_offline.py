"""bertviz pages that work offline: no CDN, libraries from installed packages, size caps."""

from __future__ import annotations

import re

import pytest

from playground.hf import bertviz_offline as bv
from playground.service.model_service import DEFAULT_ENCODER, REPO_ROOT, cache_dir

TEXT = "The animal didn't cross the street because it was too tired."


def _assert_offline(page: bv.BertvizPage) -> None:
    doc = page.html
    assert not re.search(r"""(src|href)=["']?https?://""", doc), "a resource would load from the network"
    assert "cdnjs" not in doc and "require.min.js" not in doc
    assert "window.requirejs" in doc  # the shim
    assert "d3js.org" in doc or "https://d3js.org" in doc  # d3's licence banner: inlined from mpld3
    assert "jQuery v3" in doc  # inlined from xstatic-jquery
    assert doc.count("PYTHON_PARAMS") == 0 and "template marker" not in doc  # data sent once


@pytest.mark.parametrize("view", ["head", "model"])
def test_head_and_model_views_are_offline_and_small(view: str) -> None:
    page = bv.build_page(view, DEFAULT_ENCODER, TEXT, "It fell asleep.")
    _assert_offline(page)
    assert page.view == view and page.layers == tuple(range(6)) and not page.notes
    assert len(page.html) < 1.5 * 2**20
    assert re.search(r"\d\.\d{5,}", page.html.split("const params", 1)[1][:200_000]) is None  # 4 decimals


def test_long_text_is_capped_and_told() -> None:
    page = bv.build_page("head", DEFAULT_ENCODER, "word " * 400, "other " * 400)
    assert page.n_tokens == bv.MAX_VIEW_TOKENS
    assert len(page.html) < bv.BUDGET_BYTES * 1.3  # "a few MB", not 53 MB
    assert any("first 64" in n for n in page.notes) and any("layers" in n for n in page.notes)
    assert len(page.layers) < 6


def test_neuron_view_converts_weights_into_the_cache_not_the_repo() -> None:
    folder = bv.neuron_weights_dir(DEFAULT_ENCODER)
    assert (folder / "pytorch_model.bin").is_file() and (folder / "converted.ok").is_file()
    assert cache_dir().resolve() in folder.resolve().parents
    assert REPO_ROOT.resolve() not in folder.resolve().parents
    page = bv.build_page("neuron", DEFAULT_ENCODER, "word " * 100, layer=2, head=3)
    _assert_offline(page)
    assert page.n_tokens <= bv.MAX_NEURON_TOKENS and page.notes
    assert '"queries"' in page.html and len(page.html) < 3 * 2**20


def test_neuron_view_refuses_models_it_cannot_draw() -> None:
    with pytest.raises(ValueError):
        bv.build_page("neuron", "gpt2", TEXT)  # offline: the service says why
    with pytest.raises(ValueError, match="view"):
        bv.build_page("sideways", DEFAULT_ENCODER, TEXT)


def test_iframe_is_sandboxed_and_escaped() -> None:
    from components.bertviz_view import bertviz_html

    page = bv.build_page("head", DEFAULT_ENCODER, 'Quotes " and <b>tags</b>')
    frame = bertviz_html(page)
    assert frame.startswith("<iframe") and 'sandbox="allow-scripts"' in frame
    assert "allow-same-origin" not in frame  # the page cannot reach into the app
    srcdoc = frame.split('srcdoc="', 1)[1]
    assert "<script" not in srcdoc and "&lt;script" in srcdoc
