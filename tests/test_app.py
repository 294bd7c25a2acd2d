"""The app end to end: start-up, the tokenizer through the API, and the browser."""

from __future__ import annotations

import pytest

import gradio as gr

import app
from components.links import read_link, tab_parents
from components.overview_tab import PATH
from playground.service.model_service import DEFAULT_ENCODER
from tests.conftest import assert_not_blank


def test_every_tab_has_an_id_title_and_a_place_on_the_path():
    assert len(set(app.TAB_IDS)) == len(app.TABS)
    assert {tab for tab, _, _ in PATH} <= set(app.TAB_IDS)


PARENTS = {"overview": "overview", "attention": "attention", "attention-model": "attention"}


@pytest.mark.parametrize("params, lab, sub_tab, presenter, note", [
    ({}, None, "", False, ""),
    ({"tab": "attention", "presenter": "1"}, "attention", "", True, ""),
    ({"tab": "attention-model"}, "attention", "attention-model", False, ""),
    ({"tab": "nope", "presenter": "0"}, None, "", False, "no lab called “nope”")])
def test_query_params_select_lab_sub_tab_and_presenter(params, lab, sub_tab, presenter, note):
    link = read_link(params, PARENTS, [])
    assert (link.lab, link.sub_tab or "", link.presenter) == (lab, sub_tab, presenter)
    assert note in link.note and bool(link.note) is bool(note)


def test_tab_parents_name_every_lab_and_sub_tab():
    with gr.Blocks():
        with gr.Tabs() as tabs:
            with gr.Tab("A", id="a"):
                with gr.Tabs():
                    with gr.Tab("A1", id="a-1"):
                        gr.Markdown("x")
            with gr.Tab("B", id="b"):
                gr.Markdown("y")
    assert tab_parents(tabs) == {"a": "a", "a-1": "a", "b": "b"}


def test_tokenize_through_the_api(client):
    chips, summary, decoded, code = client.predict(
        "Unbelievable tokenizers!", DEFAULT_ENCODER, 32, api_name="/tokenize")
    assert "[CLS]" in chips and "##" in chips
    assert decoded == "unbelievable tokenizers!"
    assert "from_pretrained" in code


def test_api_bad_model_id_is_an_error_and_the_app_keeps_serving(client):
    with pytest.raises(Exception, match="not a model id|offline"):
        client.predict("hi", "../../etc/passwd", 32, api_name="/tokenize")
    with pytest.raises(Exception, match="empty"):
        client.predict("", DEFAULT_ENCODER, 32, api_name="/tokenize")
    _, summary, _, _ = client.predict("still serving", DEFAULT_ENCODER, 32, api_name="/tokenize")
    assert "tokens" in summary


def test_browser_clicks_every_tab_and_tokenizes(page):
    page.open()
    for tab in app.TABS:
        page.open_tab(tab.TAB_ID)
    page.open_tab("tokenizers")
    page.page.fill("#tab-tokenizers textarea", "Héllo wörld, tokenizers! 🚀")
    page.page.click("#tokenize-btn")
    page.page.locator("#token-chips .chip.special").first.wait_for(timeout=30_000)
    chips = page.page.locator("#token-chips .chip").all_inner_texts()
    assert chips[0].startswith("[CLS]") and chips[-1].startswith("[SEP]")
    assert_not_blank(page.screenshot("tokenizers"))
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests


def test_browser_link_opens_tab_in_presenter_mode(page):
    page.open("?tab=tokenizers&presenter=1")
    page.page.locator("#tab-tokenizers").wait_for(state="visible", timeout=15_000)
    page.page.wait_for_function("document.body.classList.contains('presenter')", timeout=15_000)
    assert_not_blank(page.screenshot("presenter"))
    page.page.locator("#presenter-toggle input").uncheck()
    page.page.wait_for_function("!document.body.classList.contains('presenter')", timeout=15_000)


def test_browser_sub_tab_link_and_start_here_cards_switch_in_place(page):
    page.open("?tab=attention-model")
    selected = "[...document.querySelectorAll('button[role=tab][aria-selected=true]')].map(b => b.dataset.tabId)"
    page.page.wait_for_function(f"{selected}.includes('attention-model')", timeout=30_000)
    page.open("?tab=no-such-lab")
    page.page.locator("#link-note").wait_for(state="visible", timeout=30_000)
    assert "no-such-lab" in page.page.locator("#link-note").inner_text()
    page.open()
    page.page.evaluate("window.__same_page = true")  # gone if the card reloaded the page
    page.page.click("a[data-np-tab=gan]")
    page.page.locator("#tab-gan").wait_for(state="visible", timeout=15_000)
    assert page.page.evaluate("window.__same_page === true")
    assert page.page.url.endswith("?tab=gan")


def test_browser_presenter_mode_enlarges_plot_text(page):
    page.open("?tab=positional&presenter=1")
    sizes = "[...document.querySelectorAll('.js-plotly-plot')].map(p => p._fullLayout && p._fullLayout.font.size)"
    page.page.wait_for_function(f"{sizes}.length > 0 && {sizes}.every(s => s === 20)", timeout=60_000)
    page.page.locator("#presenter-toggle input").uncheck()
    page.page.wait_for_function(f"{sizes}.every(s => s === 15)", timeout=15_000)
