"""Links into the app: ``?tab=<lab or sub-tab id>`` opens that lab (and sub-tab) in place,
and a lesson link also sets the lab's controls (see ``lab_setup``).

Labs and their sub-tabs are ``gr.Tab``s with an ``id``; Gradio renders each tab's button
with ``data-tab-id="<id>"``, so the page can switch tabs by clicking that button: no page
reload, and the session's work in other labs is kept.
"""

from __future__ import annotations

import functools
import math
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Sequence

import gradio as gr
from gradio.components import Component

from components import queues
from playground.service.validate import clamp, clean_text

# Clicks the buttons of the tabs ``ids`` (space-separated: a lab, then its sub-tab), in order;
# a sub-tab's button exists only once its lab is shown, so each is waited for (up to 5 s).
# Returns nothing: no component is updated.
OPEN_TAB_JS = """
(ids) => {
  const queue = (ids || "").split(" ").filter(Boolean);
  let started = Date.now();
  const attempt = () => {
    if (!queue.length) return;
    const button = document.querySelector(`button[role="tab"][data-tab-id="${CSS.escape(queue[0])}"]`);
    if (button) { button.click(); queue.shift(); started = Date.now(); }
    if (queue.length && Date.now() - started < 5000) setTimeout(attempt, button ? 0 : 100);
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


# --- lesson links: a lab's settings in the URL ----------------------------------------------
# ?tab=<lab>&<control>=<value>...&hide=<control>,<control>: opening it sets those controls in
# the new session (each value checked against its control: a slider's range, a dropdown's
# choices, text length), hides the listed ones, then the lab runs as on its first view.
RESERVED_PARAMS = ("tab", "presenter", "hide")
MAX_TEXT_IN_LINK = 2_000

# Turns the query the server made into a full link in the box, and copies it.
COPY_LINK_JS = """
(query) => {
  if (!query) return query;
  const link = location.origin + location.pathname + query;
  navigator.clipboard?.writeText(link).catch(() => {});
  return link;
}
"""


@dataclass(frozen=True)
class LabSetup:
    """What a lesson link can set in one lab, and the trigger the lab reruns on."""

    lab: str
    controls: dict[str, Component]  # the name used in links → the control
    restored: gr.Number  # set (to 1, 2, ...) when a link restored this lab: wire the lab's run to its .change
    hide: gr.CheckboxGroup  # the controls a teacher may hide in the link
    # values a link may give a dropdown whose own choices change with another setting (a model
    # list per task): name → the allowed values; other controls are checked against themselves
    choices: dict[str, list[Any]] = field(default_factory=dict)


def lab_setup(lab: str, controls: dict[str, Component], internal: Sequence[str] = (),
              choices: dict[str, list[Any]] | None = None) -> LabSetup:
    """Inside a lab's layout: "Copy link to this setup" (with controls to hide in the link)
    and the hidden trigger the lab wires its first-view run to (``setup.restored.change``).

    ``internal`` names settings a link carries that a teacher has no reason to hide (a
    hidden box holding the open sub-tab): they are left out of the hide choices.
    ``choices``: for a dropdown whose choices follow another setting, every value a link may give it."""
    names = list(controls)
    with gr.Accordion("Link to this setup (for teachers)", open=False, elem_classes=["lesson-link"]):
        hide = gr.CheckboxGroup([name for name in names if name not in internal],
                                label="Controls to hide for students who open the link")
        copy = gr.Button("🔗 Copy link to this setup", size="sm")
        link = gr.Textbox(label="Link (copied)", interactive=False, buttons=["copy"])
    restored = gr.Number(value=0, visible=False)
    copy.click(functools.partial(setup_query, lab, names), [*controls.values(), hide], link,
               api_name=f"{lab}_link", **queues.CHEAP).then(None, link, link, js=COPY_LINK_JS)
    return LabSetup(lab, dict(controls), restored, hide, dict(choices or {}))


def setup_query(lab: str, names: list[str], *values_and_hide: Any) -> str:
    """The query string of a link that restores ``names`` = values in ``lab``."""
    *values, hide = values_and_hide
    if len(values) != len(names):
        raise gr.Error("The link needs one value per control.")
    params = {"tab": lab}
    params.update({name: _link_text(value) for name, value in zip(names, values) if value is not None})
    hidden = [name for name in (hide or []) if name in names]
    if hidden:
        params["hide"] = ",".join(hidden)
    return "?" + urllib.parse.urlencode(params)


def restore_setup(setup: LabSetup, params: dict[str, str], opened: int = 1
                  ) -> tuple[dict[Component, Any], list[str]]:
    """Updates for the lab's controls from a link's ``params``, and notes on what was ignored.
    ``opened`` counts the links this page has opened (the one it loaded is 1): ``restored``
    is set to it, so that each link fires ``restored.change`` even in a lab opened before."""
    updates: dict[Component, Any] = {}
    notes: list[str] = []
    for name, text in params.items():
        if name in RESERVED_PARAMS:
            continue
        control = setup.controls.get(name)
        if control is None:
            notes.append(f"ignored “{name[:40]}”: this lab has no such setting")
            continue
        try:
            value, note = link_value(control, text, setup.choices.get(name))
        except ValueError as err:
            notes.append(f"ignored {name}: {err}")
            continue
        updates[control] = gr.update(value=value)
        if note:
            notes.append(note)
    for name in filter(None, params.get("hide", "").split(",")):
        control = setup.controls.get(name)
        if control is None:
            notes.append(f"cannot hide “{name[:40]}”: this lab has no such setting")
        else:
            updates[control] = gr.update(visible=False, **updates.get(control, {}))
    updates[setup.restored] = opened
    return updates, notes


def link_value(control: Component, text: str, choices: list[Any] | None = None) -> tuple[Any, str]:
    """The value ``text`` gives ``control``, checked as the control itself would: a slider's
    range, a dropdown's choices (or the given ``choices``); (value, note if it was changed).
    ValueError if refused."""
    text = str(text)
    if isinstance(control, gr.Checkbox):
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError("not on (1) or off (0)")
        return text.lower() in ("1", "true"), ""
    if isinstance(control, (gr.Slider, gr.Number)):
        low = control.minimum if control.minimum is not None else -math.inf
        high = control.maximum if control.maximum is not None else math.inf
        number, note = clamp(text, low, high, control.label or "a value")
        whole = (isinstance(control, gr.Number) and control.precision == 0) or (
            isinstance(control, gr.Slider) and float(control.step).is_integer() and float(low).is_integer())
        return (int(round(number)) if whole else number), note
    if isinstance(control, (gr.Dropdown, gr.Radio)):
        for choice in (control.choices if choices is None else choices):
            value = choice[1] if isinstance(choice, tuple) else choice
            if str(value) == text:
                return value, ""
        raise ValueError("not one of the choices")  # never a free value: no ids or paths
    if isinstance(control, gr.Textbox):
        return clean_text(text, max_chars=MAX_TEXT_IN_LINK), ""
    raise ValueError("cannot be set by a link")


def _link_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class PageLink:
    """What the page does for one link: which lab and sub-tab to open, presenter mode, the
    control updates of a lesson link, and a note on whatever was ignored."""

    lab: str | None
    sub_tab: str | None
    presenter: bool
    updates: dict[Component, Any]
    note: str


def read_link(params: dict[str, str], parents: dict[str, str], setups: list[LabSetup],
              opened: int = 1) -> PageLink:
    """What the page does for a link's ``params`` (``opened``: see ``restore_setup``)."""
    lab, sub_tab, note = resolve_tab(params.get("tab"), parents)
    presenter = str(params.get("presenter", "0")).lower() in ("1", "true", "yes", "on")
    updates: dict[Component, Any] = {}
    setup = next((s for s in setups if s.lab == lab), None)
    if setup is not None and set(params) - {"tab", "presenter"}:
        updates, notes = restore_setup(setup, params, opened)
        if notes:
            note = "This link's settings: " + "; ".join(notes) + "."
    return PageLink(lab, sub_tab, presenter, updates, note)


def link_note_update(link: PageLink) -> gr.Markdown:
    return gr.Markdown(link.note, visible=bool(link.note))


@dataclass(frozen=True)
class PageLinks:
    """What opening a link touches in the page, for opening one later without a reload (the
    guided path's Next step): the lab's settings, the note, and the tabs OPEN_TAB_JS clicks."""

    tabs: gr.Tabs
    open_tabs: gr.Textbox  # "lab sub-tab": the ids OPEN_TAB_JS clicks, in order
    note: gr.Markdown
    parents: dict[str, str]
    setups: list[LabSetup]

    @property
    def outputs(self) -> list[Component]:
        return [self.tabs, self.open_tabs, self.note,
                *(c for setup in self.setups for c in (*setup.controls.values(), setup.restored))]

    def open_in_place(self, params: dict[str, str], opened: int) -> dict[Component, Any]:
        """Updates that open ``params``'s lab as a link would; then run OPEN_TAB_JS on
        ``open_tabs`` (a click on the lab's tab works even where the student clicked away)."""
        link = read_link(params, self.parents, self.setups, opened)
        return {self.tabs: gr.Tabs(selected=link.lab) if link.lab else gr.Tabs(),
                self.open_tabs: " ".join(filter(None, (link.lab, link.sub_tab))),
                self.note: link_note_update(link), **link.updates}


def link_note() -> gr.Markdown:
    """Where the page says what a link asked for that it could not do (place it at the top)."""
    return gr.Markdown(visible=False, elem_classes=["note"], elem_id="link-note")


def wire_page_links(demo: gr.Blocks, tabs: gr.Tabs, presenter: gr.Checkbox, note_box: gr.Markdown,
                    setups: list[LabSetup]) -> PageLinks:
    """On page load: open the link's lab and sub-tab, restore a lesson link's settings (then
    each restored lab reruns), say what was ignored; and make Start-here cards switch in place.
    Returns what opening a link later in the same page needs."""
    page = PageLinks(tabs, gr.Textbox(visible=False), note_box, tab_parents(tabs), setups)

    def on_load(request: gr.Request) -> dict[Component, Any]:
        link = read_link(dict(request.query_params) if request else {}, page.parents, setups)
        # Without a ?tab=, leave the tabs alone: the student may already have clicked one.
        # The lab is selected here, with its settings; OPEN_TAB_JS opens only the sub-tab.
        return {tabs: gr.Tabs(selected=link.lab) if link.lab else gr.Tabs(), presenter: link.presenter,
                page.open_tabs: link.sub_tab or "", note_box: link_note_update(link), **link.updates}

    demo.load(None, None, None, js=CARD_CLICKS_JS)
    demo.load(on_load, None, [presenter, *page.outputs], api_visibility="private", **queues.CHEAP
              ).then(None, page.open_tabs, None, js=OPEN_TAB_JS)
    return page
