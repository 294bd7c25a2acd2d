"""The look of the app: theme, stylesheet and presenter mode (large type, high contrast)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

CSS_PATH = Path(__file__).resolve().parent.parent / "assets" / "style.css"

# Toggling a class on <body> restyles every tab at once (see .presenter rules in style.css).
# Plot text is drawn by plotly, not CSS: every plot gets a larger base font through
# Plotly.relayout (so plotly re-measures its margins and nothing is clipped), and plots drawn
# later get it too (a MutationObserver; plots already at the size are left alone).
PRESENTER_JS = """
(on) => {
  document.body.classList.toggle('presenter', !!on);
  // figures.py's house sizes (base 15, title 18, legend 14), enlarged for a projector
  const size = on ? 20 : 15;
  const sizes = {'font.size': size, 'title.font.size': on ? 24 : 18, 'legend.font.size': on ? 18 : 14};
  const resize = () => {
    if (!window.Plotly) return;
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
      if (plot._fullLayout && plot._fullLayout.font.size !== size) {
        window.Plotly.relayout(plot, sizes);
      }
    }
  };
  window.npPresenterObserver?.disconnect();
  window.npPresenterObserver = new MutationObserver(() => {
    clearTimeout(window.npPresenterTimer);
    window.npPresenterTimer = setTimeout(resize, 200);
  });
  window.npPresenterObserver.observe(document.body, {childList: true, subtree: true});
  resize();
  return on;
}
"""


# Every plot gets "PNG" and "SVG" buttons (one place: launch_options, for every page): plotly.js
# draws the file in the browser (Plotly.downloadImage), so nothing runs on the server and
# nothing is fetched (kaleido would need a Chrome on the server). Plotly's own modebar, shown
# on hover, keeps its PNG camera. The file is named after the figure's title. Buttons go
# inside the plot's own element, so they leave with it; plots drawn later get them too, and a
# placeholder figure without data gets none.
PLOT_DOWNLOADS_JS = """
() => {
  const fileName = (plot) => {
    const title = plot.layout?.title;
    const text = String((typeof title === "string" ? title : title?.text) || "").replace(/<[^>]*>/g, " ");
    return text.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
      .slice(0, 60) || "figure";
  };
  const equip = () => {
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
      const present = plot.querySelector(":scope > .np-plot-downloads");
      const drawn = (plot.data || []).length > 0;  // a placeholder ("Press Run") has no traces
      if (!drawn) present?.remove();
      if (present || !drawn) continue;
      const bar = document.createElement("div");
      bar.className = "np-plot-downloads";
      for (const format of ["png", "svg"]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "⤓ " + format.toUpperCase();
        button.title = `Download this figure as ${format.toUpperCase()}`;
        button.dataset.format = format;
        // PNG at twice the size on screen: sharp on a slide; SVG scales by itself
        button.addEventListener("click", () => window.Plotly.downloadImage(
          plot, {format, filename: fileName(plot), scale: format === "png" ? 2 : 1}));
        bar.appendChild(button);
      }
      plot.appendChild(bar);
    }
  };
  new MutationObserver(() => {
    clearTimeout(window.npDownloadsTimer);
    window.npDownloadsTimer = setTimeout(equip, 300);
  }).observe(document.body, {childList: true, subtree: true});
  equip();
}
"""


def theme() -> gr.Theme:
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
        font=["Inter", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
        font_mono=["JetBrains Mono", "Menlo", "Consolas", "monospace"],
    )


# A classroom shares one disk. Gradio refuses a bigger upload with HTTP 413 before any
# handler sees it (the fine-tuning lab reads CSV/JSONL files up to 10 MB; images are smaller).
MAX_FILE_SIZE = "10mb"
# Every 5 minutes Gradio deletes the files it cached for users (uploads, the fine-tuning
# lab's model zips of ~80 MB each) once they are 15 minutes old; all of them when it stops.
# An upload is parsed at once and a zip is downloaded right after it is made.
DELETE_CACHE = (300, 900)


def launch_options() -> dict:
    """What Gradio 6 takes at launch() rather than in Blocks(): used by app.py and tests."""
    return {"theme": theme(), "css": CSS_PATH.read_text(), "max_file_size": MAX_FILE_SIZE,
            "js": PLOT_DOWNLOADS_JS}


def blocks_options() -> dict:
    """What Gradio 6 takes in Blocks() (delete_cache is not a launch() argument there)."""
    return {"delete_cache": DELETE_CACHE}
