"""Start here: the learning path from RNNs to GANs, one card a lab, and a 50-minute class
(components/course_path.py) that a *Next step* bar over the labs walks without a reload."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.components import Component

from components import queues
from components.course_path import CLASS_TITLE, PATH as CLASS_PATH, path_links, total_minutes
from components.links import OPEN_TAB_JS, PageLinks

TAB_ID = "overview"
TITLE = "Start here"

# (tab id, title, one line on what the student learns there)
PATH = [
    ("tokenizers", "0 · Tokenizers", "How text becomes the numbers every model below reads."),
    ("recurrent", "1 · RNN & LSTM", "Step a recurrent cell, watch its gates, see gradients vanish."),
    ("seq2seq", "2 · Encoder–decoder", "Translate with a fixed context, then with attention: watch the alignment."),
    ("attention", "3 · Attention", "Self-attention by hand, then inside a real pretrained transformer."),
    ("positional", "4 · Positions", "Why attention needs word order added, and how: sinusoids, learned, RoPE."),
    ("llm", "5 · Inside an LLM", "A real pretrained decoder: next-token odds, causal attention, the logit lens."),
    ("pipelines", "6 · Hugging Face", "Run real pipelines: sentiment, similarity, generation, digits."),
    ("finetune", "7 · Fine-tuning", "Load a dataset, fine-tune a transformer live, save and reuse it."),
    ("gan", "8 · GANs", "Train a generator against a discriminator and watch samples evolve."),
]

# The copy button fills in the page's own address (the server cannot know the one the
# teacher sees behind a proxy) and copies the list.
BASE_MARKER = "{BASE}"
COPY_CLASS_JS = f"""
() => {{
  const text = {json.dumps(path_links(BASE_MARKER))}.replaceAll({json.dumps(BASE_MARKER)},
                                                               location.origin + location.pathname);
  navigator.clipboard?.writeText(text).catch(() => {{}});
  return text;
}}
"""
# The step's link goes into the address bar (to copy or reload), and the lab is read from its top.
SHOW_STEP_JS = """
(query) => {
  if (query) history.replaceState(null, "", query);
  window.scrollTo({top: 0});
}
"""


def path_html() -> str:
    steps = "".join(f'<a href="?tab={tab}" data-np-tab="{tab}"><b>{title}</b>{line}</a>'
                    for tab, title, line in PATH)
    return f'<div class="path-steps">{steps}</div>'


def class_html() -> str:
    """The class as a table: step, minutes (and when they start), the question."""
    rows, start = [], 0
    for number, step in enumerate(CLASS_PATH, start=1):
        rows.append(f"<tr><td>{number}</td><td><b>{html.escape(step.title)}</b></td>"
                    f"<td>{step.minutes} min<br><small>{start}–{start + step.minutes}′</small></td>"
                    f"<td>{html.escape(step.question)}</td></tr>")
        start += step.minutes
    return ('<table class="class-path"><tr><th>#</th><th>Step</th><th>Time</th><th>Question for the class</th>'
            f'</tr>{"".join(rows)}</table>')


@dataclass(frozen=True)
class Walk:
    """Where a session is on the class: ``step`` shown (-1: not in a class), and how many
    links the page has opened (see links.restore_setup: each step's lab must rerun)."""

    step: int = -1
    opened: int = 1


@dataclass(frozen=True)
class CourseBar:
    """At the bottom of the window while a class runs: the step, its question, Back / Next /
    End; and the Start-here controls that begin the walk and copy it."""

    walk: gr.State
    bar: gr.Column
    step_md: gr.Markdown
    back: gr.Button
    next: gr.Button
    end: gr.Button
    query: gr.Textbox  # the step's link, for the address bar
    start: gr.Button  # rendered in Start here
    copy: gr.Button  # rendered in Start here
    links: gr.Textbox  # rendered in Start here


def course_bar() -> CourseBar:
    """Place before the tabs (the bar shows only while a class runs); pass to ``build``."""
    with gr.Column(visible=False, elem_id="course-bar") as bar:
        with gr.Row(equal_height=True):
            step_md = gr.Markdown(elem_id="course-step", scale=4)
            back = gr.Button("◀ Back", size="sm", scale=0, min_width=90, elem_id="course-back")
            next_button = gr.Button("Next step ▶", variant="primary", scale=0, min_width=150,
                                    elem_id="course-next")
            end = gr.Button("✕ End the class", size="sm", scale=0, min_width=130, elem_id="course-end")
    return CourseBar(
        walk=gr.State(Walk()), bar=bar, step_md=step_md, back=back, next=next_button, end=end,
        query=gr.Textbox(visible=False),
        start=gr.Button("▶ Start the class", variant="primary", render=False, elem_id="course-start"),
        copy=gr.Button("📋 Copy the class as links", render=False, elem_id="course-copy"),
        links=gr.Textbox(label="The class as links (copied: paste it into your notes or the chat)",
                         lines=3, max_lines=14, interactive=False, buttons=["copy"], render=False,
                         elem_id="course-links",
                         placeholder="Press “Copy the class as links”."))


def step_markdown(number: int) -> str:
    step = CLASS_PATH[number]
    start = sum(s.minutes for s in CLASS_PATH[:number])
    last = " · the last step: **Next** ends the class" if number == len(CLASS_PATH) - 1 else ""
    return (f"**🎓 Step {number + 1} of {len(CLASS_PATH)} · {html.escape(step.title)}** · {step.minutes} min "
            f"(minutes {start}–{start + step.minutes} of {total_minutes()}){last}  \n"
            f"**Question:** {html.escape(step.question)}")


def next_step(walk: Walk) -> int:
    """Next: the step after this one (past the last: the end of the class)."""
    return walk.step + 1 if walk.step >= 0 else len(CLASS_PATH)


def back_step(walk: Walk) -> int:
    return max(walk.step - 1, 0)


def walk_to(walk: Walk, number: int, course: CourseBar, page: PageLinks) -> dict[Component, Any]:
    """Open step ``number`` of the class in place (its lab, sub-tab and settings), or end the
    class (back to Start here) for a number past either end."""
    walk = Walk(number if 0 <= number < len(CLASS_PATH) else -1, walk.opened + 1)
    if walk.step < 0:
        return {course.walk: walk, course.bar: gr.Column(visible=False), course.query: f"?tab={TAB_ID}",
                **page.open_in_place({"tab": TAB_ID}, walk.opened)}
    step = CLASS_PATH[walk.step]
    last = walk.step == len(CLASS_PATH) - 1
    return {course.walk: walk, course.bar: gr.Column(visible=True), course.step_md: step_markdown(walk.step),
            course.back: gr.Button(interactive=walk.step > 0),
            course.next: gr.Button("End the class ✓" if last else "Next step ▶"),
            course.query: step.query, **page.open_in_place(step.link_params, walk.opened)}


def build(demo: gr.Blocks, course: CourseBar) -> None:
    """Lay out the tab inside ``demo`` (the app being built); ``course`` from ``course_bar``."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        gr.Markdown(
            "Neural Playground lets you touch real models. Follow the path from recurrent "
            "networks to transformers to GANs; every lab explains what you see, gives you "
            "things to try, and shows the few lines of Python that reproduce it."
        )
        gr.HTML(path_html())
        gr.Markdown(f"### {CLASS_TITLE}\n"
                    f"{len(CLASS_PATH)} steps, {total_minutes()} minutes. **Start the class** opens each "
                    "step's lab as set up for it; the bar at the bottom of the window shows the step's question and "
                    "**Next step** walks on, in this page: what you ran in a lab stays there.")
        with gr.Row():
            course.start.render()
            course.copy.render()
        course.links.render()
        gr.HTML(class_html())
        gr.Markdown(
            "**For teachers:** a link can open any lab or part of a lab directly, e.g. "
            "`?tab=attention` or `?tab=attention-model`; a lab's *Link to this setup* adds its "
            "settings and can hide controls. "
            "`?presenter=1` (or the switch at the top) turns on large, high-contrast type "
            "for a projector. Every figure downloads as PNG or SVG (the buttons in its corner) "
            "for your slides. Everything runs offline on models that ship with the app."
        )


def wire_course(course: CourseBar, page: PageLinks) -> None:
    """The class's buttons (after every lab is built: a step may set any lab's controls)."""
    outputs = [course.walk, course.bar, course.step_md, course.back, course.next, course.query, *page.outputs]

    def on_start(walk: Walk) -> dict[Component, Any]:
        return walk_to(walk, 0, course, page)

    def on_next(walk: Walk) -> dict[Component, Any]:
        return walk_to(walk, next_step(walk), course, page)

    def on_back(walk: Walk) -> dict[Component, Any]:
        return walk_to(walk, back_step(walk), course, page)

    def on_end(walk: Walk) -> dict[Component, Any]:
        return walk_to(walk, -1, course, page)

    for button, handler in ((course.start, on_start), (course.next, on_next), (course.back, on_back),
                            (course.end, on_end)):
        button.click(handler, course.walk, outputs, api_visibility="private", **queues.CHEAP
                     ).then(None, page.open_tabs, None, js=OPEN_TAB_JS).then(None, course.query, None,
                                                                            js=SHOW_STEP_JS)
    course.copy.click(None, None, course.links, js=COPY_CLASS_JS, api_visibility="private", **queues.CHEAP)
