"""Every plot offers PNG and SVG downloads (components/theme.py PLOT_DOWNLOADS_JS, loaded on
every page by launch_options): in Chromium, both buttons of a lab's plot give real files."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_not_blank


def test_browser_a_plot_downloads_as_png_and_svg(page, tmp_path):
    page.open("?tab=recurrent")
    p = page.page
    plot = p.locator("#rec-states .js-plotly-plot")
    plot.locator(".np-plot-downloads button").first.wait_for(timeout=60_000)
    assert p.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].every(plot =>
        (plot.querySelectorAll(':scope > .np-plot-downloads').length === 1) === (plot.data.length > 0))""")
    assert p.locator("#rec-gates .np-plot-downloads").count() == 0  # "Press Step": nothing to download
    files = {}
    for fmt in ("png", "svg"):
        plot.hover()
        with p.expect_download(timeout=30_000) as info:
            plot.locator(f".np-plot-downloads button[data-format={fmt}]").click()
        download = info.value
        assert download.suggested_filename.endswith(f".{fmt}") and download.suggested_filename != f"figure.{fmt}"
        files[fmt] = Path(download.path()).read_bytes()
    assert files["png"].startswith(b"\x89PNG") and len(files["png"]) > 5_000
    png = tmp_path / "states.png"
    png.write_bytes(files["png"])
    assert_not_blank(png)  # the figure, not an empty canvas
    svg = files["svg"].decode()
    assert svg.lstrip().startswith("<svg") and "<path" in svg and "<text" in svg
    assert_not_blank(page.screenshot("figure-downloads"))
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests
