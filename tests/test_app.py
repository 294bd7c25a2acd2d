"""The app end to end: start-up, the tokenizer through the API, and the browser."""

from __future__ import annotations

import pytest

import app
from components.overview_tab import PATH
from playground.service.model_service import DEFAULT_ENCODER
from tests.conftest import assert_not_blank


def test_every_tab_has_an_id_title_and_a_place_on_the_path():
    assert len(set(app.TAB_IDS)) == len(app.TABS)
    assert {tab for tab, _, _ in PATH} <= set(app.TAB_IDS)


class _Request:
    def __init__(self, **params):
        self.query_params = params


@pytest.mark.parametrize("params, tab, presenter", [
    ({}, None, False), ({"tab": "attention"}, "attention", True),
    ({"tab": "nope", "presenter": "0"}, None, False)])
def test_query_params_select_tab_and_presenter(params, tab, presenter):
    if presenter:
        params["presenter"] = "1"
    tabs, on = app.on_load(_Request(**params))
    assert tabs.selected == tab and on is presenter


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
