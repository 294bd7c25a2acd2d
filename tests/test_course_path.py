"""The guided path of Start here (components/course_path.py): every step is a lesson link
that the real labs read without a note, Next walks the steps in order and ends the class,
the copy list holds every link, and in Chromium Next walks labs without a page reload."""

from __future__ import annotations

import urllib.parse

import gradio as gr
import pytest

import app
from components import overview_tab
from components.course_path import PATH, path_links, total_minutes
from components.links import PageLinks, read_link, tab_parents
from tests.conftest import assert_not_blank


@pytest.fixture(scope="module")
def fresh_app():
    """Every lab built as app.py builds them, in a new Blocks: the course bar and the page."""
    with gr.Blocks() as demo:
        course = overview_tab.course_bar()
        with gr.Tabs() as tabs:
            overview_tab.build(demo, course)
            setups = [setup for tab in app.LABS if (setup := tab.build(demo)) is not None]
        page = PageLinks(tabs, gr.Textbox(visible=False), gr.Markdown(), tab_parents(tabs), setups)
    return course, page


def test_the_class_is_fifty_minutes_in_order_across_every_lab(fresh_app):
    _, page = fresh_app
    assert 8 <= len(PATH) <= 12 and total_minutes() == 50
    labs = [page.parents[step.tab] for step in PATH]
    order = [lab for lab in app.TAB_IDS if lab != overview_tab.TAB_ID]
    assert sorted(set(labs), key=order.index) == order  # every lab, none skipped
    assert labs == sorted(labs, key=order.index)  # tokenizers first, GANs last, never back
    assert all("?" in step.question for step in PATH)  # each step asks the class one question


@pytest.mark.parametrize("number", range(len(PATH)))
def test_every_step_is_a_lesson_link_the_lab_reads_without_a_note(fresh_app, number):
    _, page = fresh_app
    step = PATH[number]
    link = read_link(step.link_params, page.parents, page.setups)
    assert link.lab == page.parents[step.tab] and link.note == ""
    if step.params:  # a lab without a lesson link would drop them silently: it must have one
        setup = next(setup for setup in page.setups if setup.lab == link.lab)
        set_by_link = {name for name, control in setup.controls.items() if control in link.updates}
        assert set_by_link == set(step.params)


def test_next_walks_every_step_in_order_then_ends_the_class(fresh_app):
    course, page = fresh_app
    walk, seen = overview_tab.Walk(), []
    updates = overview_tab.walk_to(walk, 0, course, page)  # Start the class
    while updates[course.walk].step >= 0:
        walk = updates[course.walk]
        step = PATH[walk.step]
        seen.append(walk.step)
        link = read_link(step.link_params, page.parents, page.setups)
        assert updates[page.tabs].selected == link.lab
        assert updates[page.open_tabs] == " ".join(filter(None, (link.lab, link.sub_tab)))
        assert updates[course.bar].visible and updates[course.query] == step.query
        assert f"Step {walk.step + 1} of {len(PATH)}" in updates[course.step_md]
        assert step.question in updates[course.step_md].replace("&#x27;", "'")
        for setup in page.setups:  # each step's lab reruns, even one a step before opened
            if setup.restored in updates:
                assert updates[setup.restored] == walk.opened and walk.opened == len(seen) + 1
        updates = overview_tab.walk_to(walk, overview_tab.next_step(walk), course, page)
    assert seen == list(range(len(PATH)))
    assert updates[course.bar].visible is False and updates[page.tabs].selected == overview_tab.TAB_ID
    back = overview_tab.walk_to(walk, overview_tab.back_step(walk), course, page)
    assert back[course.walk].step == len(PATH) - 2


def test_the_copy_list_holds_every_step_as_a_full_link():
    lines = path_links("https://example.org/").splitlines()
    assert len(lines) == len(PATH)
    for line, step in zip(lines, PATH):
        url = urllib.parse.urlsplit(line.split(": ", 1)[1])
        assert (url.scheme, url.netloc) == ("https", "example.org")
        assert dict(urllib.parse.parse_qsl(url.query)) == step.link_params


def test_browser_next_walks_labs_without_a_reload(page):
    page.open()
    p = page.page
    p.locator("#course-start").wait_for(timeout=30_000)
    assert_not_blank(page.screenshot("start-here"))
    p.evaluate("window.npNoReload = 42")  # gone if the page reloads
    p.locator("#course-copy").click()
    links = p.locator("#course-links textarea")
    p.wait_for_function("() => document.querySelector('#course-links textarea').value.includes('?tab=')")
    assert f"1. {PATH[0].title} ({PATH[0].minutes} min): {page.base_url}?tab={PATH[0].tab}" in links.input_value()
    p.locator("#course-start").click()
    p.locator(f"#tab-{PATH[0].tab}").wait_for(state="visible", timeout=30_000)
    p.locator("#course-step").get_by_text("Step 1 of").wait_for(timeout=30_000)
    p.locator("#course-next").click()  # step 2: the RNN lab as its link sets it up, and rerun
    p.locator("#tab-recurrent").wait_for(state="visible", timeout=30_000)
    p.locator("#rec-note").get_by_text("forget-gate bias set to -3").wait_for(timeout=60_000)
    assert p.locator("#rec-equations").is_visible()  # its Step a cell sub-tab
    assert "forget_bias=-3" in p.evaluate("location.search")
    p.locator("#course-next").click()  # step 3: the same lab, another sub-tab and settings
    p.locator("#rec-note").get_by_text("forget-gate bias set to 3").wait_for(timeout=60_000)
    p.locator("#rec-grads").wait_for(state="visible", timeout=30_000)
    p.locator("#course-next").click()  # step 4: another lab
    p.locator(f"#tab-{PATH[3].tab}").wait_for(state="visible", timeout=30_000)
    p.locator("#course-step").get_by_text("Step 4 of").wait_for(timeout=30_000)
    assert p.evaluate("window.npNoReload") == 42  # the same page all along
    p.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # far down a long lab,
    p.wait_for_timeout(300)
    assert p.locator("#course-next").evaluate("b => b.getBoundingClientRect().top") >= 0  # Next in view
    assert p.locator("#course-next").evaluate("b => b.getBoundingClientRect().bottom < innerHeight")
    assert_not_blank(page.screenshot("course-step-4"))
    p.locator("#course-end").click()
    p.locator("#tab-overview").wait_for(state="visible", timeout=30_000)
    assert p.locator("#course-bar").is_hidden()
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests
