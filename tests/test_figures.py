"""The one way to make figures (components/figures.py): trace dicts on the house layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from plotly.subplots import make_subplots

from components.figures import FigureJSON, axis_names, bars, empty, heatmap, subplots

COMPONENTS = Path(__file__).resolve().parent.parent / "components"


def test_no_component_builds_plotly_objects():
    """Every figure goes through fast_figure; plotly.colors helpers are allowed."""
    offenders = [p.name for p in COMPONENTS.glob("*.py")
                 if any(name in p.read_text() for name in ("plotly.graph_objects", "plotly.subplots", "go.Figure"))]
    assert offenders == []


@pytest.mark.parametrize("rows, cols, kwargs", [
    (1, 3, dict(shared_yaxes=True, horizontal_spacing=0.04)),
    (2, 4, dict(horizontal_spacing=0.05, vertical_spacing=0.12)),
    (3, 1, dict(vertical_spacing=0.12)),
    (2, 2, dict(horizontal_spacing=0.1, vertical_spacing=0.2)),
])
def test_subplots_match_plotlys_geometry(rows: int, cols: int, kwargs: dict):
    titles = [f"plot {n}" for n in range(rows * cols - 1)]  # one cell without a title
    ours = subplots(rows, cols, titles, **kwargs)
    theirs = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kwargs).layout.to_plotly_json()
    for n in range(1, rows * cols + 1):
        refs = axis_names(n)
        for axis, other in (("xaxis", refs["yaxis"]), ("yaxis", refs["xaxis"])):
            key = axis + ("" if n == 1 else str(n))
            assert ours[key]["domain"] == pytest.approx(list(theirs[key]["domain"]))
            assert ours[key]["anchor"] == other
            assert ours[key].get("matches") == theirs[key].get("matches")
    assert [a["text"] for a in ours["annotations"]] == titles
    assert [a["x"] for a in ours["annotations"]] == pytest.approx([a["x"] for a in theirs["annotations"]])
    assert [a["y"] for a in ours["annotations"]] == pytest.approx([a["y"] for a in theirs["annotations"]])


def test_builders_write_plain_json_that_plotly_js_reads():
    fig = heatmap(np.array([[0.2, np.nan], [1.0, 0.0]]), ["a", "a"], ["q", "r"], "weights")
    assert isinstance(fig, FigureJSON)
    sent = orjson.loads(fig.to_json())
    trace = sent["data"][0]
    assert trace["type"] == "heatmap" and trace["z"] == [[0.2, None], [1.0, 0.0]]  # NaN → a gap
    assert trace["x"] == ["a", "a\u2009(2)"]  # equal tokens stay two columns
    assert isinstance(trace["colorscale"], list)  # plotly.js knows no "RdBu_r": explicit lists
    assert trace["colorbar"]["outlinewidth"] == 0 and sent["layout"]["title"]["text"] == "weights"
    bar = bars(["x"], [0.5], range_=(0, 1)).data[0]
    assert bar["type"] == "bar" and bar["marker"]["color"]
    assert empty("Press Run").layout["annotations"][0]["text"] == "Press Run"


def test_array_views_and_odd_dtypes_are_written():
    """A column of a matrix, a broadcast and float16 are not plain C arrays; orjson alone refuses them."""
    pe = np.arange(12.0).reshape(3, 4)
    fig = FigureJSON([dict(type="scatter", y=pe[:, 1], customdata=np.broadcast_to(np.arange(2), (3, 2)),
                           x=np.array([0.5, 1, 2], dtype=np.float16))], {})
    trace = orjson.loads(fig.to_json())["data"][0]
    assert trace["y"] == [1.0, 5.0, 9.0] and trace["customdata"] == [[0, 1]] * 3 and trace["x"] == [0.5, 1, 2]
