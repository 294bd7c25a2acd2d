"""Shared fixtures: the live app on 127.0.0.1, a gradio_client for its API, and a real
headless Chromium page. In CI (CI=true) nothing is skipped: a missing browser fails."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as app.py: one torch thread per request
os.environ.setdefault("NP_CACHE_DIR", tempfile.mkdtemp(prefix="np-test-cache-"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("NP_SCREENSHOTS", Path(tempfile.gettempdir()) / "np-screenshots"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The real app, launched once per test session on a free loopback port."""
    import app
    from components.theme import launch_options

    port = _free_port()
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, **launch_options())
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()


@pytest.fixture(scope="session")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install chromium")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """A browser page plus what it logged: console errors and requests off the machine."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.outside_requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def open(self, query: str = "") -> None:
        self.page.goto(self.base_url + query, wait_until="domcontentloaded")
        self.page.wait_for_selector("#np-tabs", timeout=30_000)

    def open_tab(self, tab_id: str) -> None:
        """Click a tab's button by its visible title and wait for the panel to show."""
        import app

        title = next(t.TITLE for t in app.TABS if t.TAB_ID == tab_id)
        self.page.get_by_role("tab", name=title).click()
        self.page.locator(f"#tab-{tab_id}").wait_for(state="visible", timeout=15_000)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture()
def page(browser, app_url: str) -> Iterator[PageWatch]:
    """A fresh page that may talk only to the app: any request off 127.0.0.1 is blocked
    and recorded, so a test proves the app works offline."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    watch = PageWatch(context.new_page(), app_url)

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            watch.outside_requests.append(url)
            request_route.abort()

    context.route("**/*", route)
    yield watch
    context.close()


def assert_not_blank(path: Path, min_colours: int = 50) -> None:
    """A screenshot with real content has many distinct colours; a blank page has few."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    image.thumbnail((400, 400))
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) >= min_colours, f"{path} looks blank ({len(colours)} colours)"


def wait_until(condition, timeout_s: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def lab_in_fresh_blocks(tab_module) -> tuple:
    """A lab built in a new Blocks (as a fresh session's page has it): its LabSetup and the
    tab ids → lab that links resolve against."""
    import gradio as gr

    from components.links import tab_parents

    with gr.Blocks() as demo:
        with gr.Tabs() as tabs:
            setup = tab_module.build(demo)
    return setup, tab_parents(tabs)


def restored_settings(setup, updates: dict) -> dict:
    """The values a lesson link's ``updates`` give the lab's controls, by their link names."""
    return {name: updates[control]["value"] for name, control in setup.controls.items()
            if control in updates and "value" in updates[control]}


def hidden_controls(setup, updates: dict) -> list[str]:
    """The link names of the controls a lesson link's ``updates`` hide."""
    return [name for name, control in setup.controls.items() if updates.get(control, {}).get("visible") is False]


def link_round_trip(client, setup, parents: dict, settings: dict, hide: list[str]) -> dict:
    """A lab's settings through its live /<lab>_link endpoint (hiding ``hide``) and back
    as a fresh session reads the link on page load: the settings it restores, after checking
    that they are ``settings``, that nothing was refused, and that ``hide`` is hidden."""
    import urllib.parse

    from components.links import read_link

    query = client.predict(*settings.values(), hide, api_name=f"/{setup.lab}_link")
    params = dict(urllib.parse.parse_qsl(query.lstrip("?")))
    assert params["tab"] == setup.lab and params["hide"] == ",".join(hide)
    link = read_link(params, parents, [setup])
    assert link.lab == setup.lab and link.note == ""
    restored = restored_settings(setup, link.updates)
    assert restored == settings and link.updates[setup.restored] == 1
    assert sorted(hidden_controls(setup, link.updates)) == sorted(hide)
    return restored


def assert_link_refuses(setup, parents: dict, params: dict, kept: dict, said: list[str]) -> None:
    """A link with bad ``params`` restores only ``kept`` (clamped values included) and its
    note says each of ``said`` (what was clamped or ignored, and why)."""
    from components.links import read_link

    link = read_link(params, parents, [setup])
    assert restored_settings(setup, link.updates) == kept
    for words in said:
        assert words in link.note, (words, link.note)


def run_lab_notebook(code: str, title: str, lesson: str, folder: Path, must_cite: str = "") -> str:
    """A lab's "Download notebook" (its code panel with ``title`` and ``lesson``) run top to
    bottom in a Jupyter kernel from an empty ``folder``; what its code cell printed."""
    import nbformat
    from nbclient import NotebookClient

    from components.code_panel import notebook_text

    notebook = nbformat.reads(notebook_text(code, title, lesson), as_version=4)
    assert must_cite in notebook.cells[0].source and "pip install" in notebook.cells[1].source
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    # stdout only: a library's warnings and progress bars go to stderr, without a newline at the end
    return "".join(out.get("text", "") for out in notebook.cells[-1].outputs if out.get("name") == "stdout")


def browser_prediction_holds(page: PageWatch, choice, run_button, screenshot: str, timeout_ms: int) -> None:
    """In the browser: pick the prediction ``choice`` (a locator), press ``run_button``, see that
    it held and the session's tally, then a screenshot that is not blank and a clean console."""
    choice.check()
    run_button.click()
    page.page.get_by_text("Your prediction held").wait_for(timeout=timeout_ms)
    assert page.page.get_by_text("1 of 1 right").is_visible()
    assert_not_blank(page.screenshot(screenshot))
    assert not page.console_errors and not page.outside_requests
