"""Links into the app: ``?tab=<lab or sub-tab id>`` opens that lab (and sub-tab) in place.

Labs and their sub-tabs are ``gr.Tab``s with an ``id``; Gradio renders each tab's button
with ``data-tab-id="<id>"``, so the page can switch tabs by clicking that button: no page
reload, and the session's work in other labs is kept.
"""

from __future__ import annotations

import gradio as gr

# Clicks the button of tab ``id``; a sub-tab's button exists only once its lab is shown,
# so it is waited for (up to 5 s). Returns nothing: no component is updated.
OPEN_TAB_JS = """
(id) => {
  if (!id) return;
  const started = Date.now();
  const attempt = () => {
    const button = document.querySelector(`button[role="tab"][data-tab-id="${CSS.escape(id)}"]`);
    if (button) { button.click(); return; }
    if (Date.now() - started < 5000) setTimeout(attempt, 100);
  };
  attempt();
}
"""

# Start-here cards are <a href="?tab=x" data-np-tab="x">: a plain click switches tabs in place
# (and puts the link in the address bar to copy); a middle-click still opens a new page.
CARD_CLICKS_JS = """
() => {
  document.addEventListener("click", (event) => {
    const card = event.target.closest("a[data-np-tab]");
    if (!card || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const button = document.querySelector(`button[role="tab"][data-tab-id="${CSS.escape(card.dataset.npTab)}"]`);
    if (button) button.click();
    history.replaceState(null, "", card.getAttribute("href"));
    window.scrollTo({top: 0});
  });
}
"""


def tab_parents(tabs: gr.Tabs) -> dict[str, str]:
    """Every tab id under ``tabs`` (labs and their sub-tabs) → the id of its lab."""
    parents: dict[str, str] = {}

    def walk(block: gr.blocks.Block, lab: str) -> None:
        for child in getattr(block, "children", []):
            if isinstance(child, gr.Tab) and child.id is not None:
                parents[str(child.id)] = lab
            walk(child, lab)

    for lab in tabs.children:
        if isinstance(lab, gr.Tab) and lab.id is not None:
            parents[str(lab.id)] = str(lab.id)
            walk(lab, str(lab.id))
    return parents


def resolve_tab(requested: str | None, parents: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(lab to select, sub-tab to open, note for the student) for a ``?tab=`` value."""
    if not requested:
        return None, None, ""
    if requested not in parents:
        labs = ", ".join(sorted({lab for lab in parents.values()}))
        return None, None, (f"There is no lab called “{requested[:60]}”: the link may be mistyped. "
                            f"Labs: {labs}.")
    lab = parents[requested]
    return lab, (requested if requested != lab else None), ""
