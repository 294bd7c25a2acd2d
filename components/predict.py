"""Predict, then reveal: before a key step the lab asks a question, the student commits to an
answer, the lab runs, and says whether the prediction held, with the numbers that decide it.

The answer is never written in the UI: the lab computes it from its own run (a core function
returning an ``Outcome``), so a changed setting changes the answer. The tally is per session
(``gr.State``): no accounts, nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr


@dataclass(frozen=True)
class Outcome:
    """What the run says: the choice that is right, and the numbers that decide it."""

    correct: str
    evidence: str


@dataclass
class Tally:
    asked: int = 0
    right: int = 0
    seen: set[str] = field(default_factory=set)  # question ids already counted this session


@dataclass(frozen=True)
class Question:
    """A prediction box inside a lab: the choice, the verdict and the session's tally."""

    id: str
    choice: gr.Radio
    verdict: gr.Markdown
    tally: gr.State


def ask(question_id: str, question: str, choices: list[str]) -> Question:
    """Lay out a question with two to four ``choices``; the lab wires ``reveal`` after its run."""
    if not 2 <= len(choices) <= 4:
        raise ValueError("a prediction question has two to four choices")
    with gr.Group(elem_classes=["predict"]):
        choice = gr.Radio(choices, value=None, label=f"🤔 Predict first: {question}")
        verdict = gr.Markdown(elem_classes=["predict-verdict"])
    return Question(question_id, choice, verdict, gr.State(Tally()))


def reveal(question_id: str, choice: str | None, outcome: Outcome | None, tally: Tally) -> tuple[str, Tally]:
    """The verdict on the student's ``choice`` against the run's ``outcome``, and the tally.

    A run without a prediction still shows the answer (nothing to count); one prediction per
    question is counted per session, so pressing Run again does not inflate the tally."""
    if outcome is None:
        return "", tally
    if not choice:
        return f"The run says: **{outcome.correct}**. {outcome.evidence}", tally
    held = choice == outcome.correct
    if question_id not in tally.seen:
        tally = Tally(tally.asked + 1, tally.right + held, tally.seen | {question_id})
    head = "✅ Your prediction held" if held else f"❌ Not this time: the answer is **{outcome.correct}**"
    return (f"{head}. {outcome.evidence}\n\n"
            f"<small>Your predictions this session: {tally.right} of {tally.asked} right.</small>"), tally
