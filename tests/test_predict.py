"""Predict, then reveal: the verdict compares the student's choice with the run's outcome,
and the session's tally counts each question once."""

from __future__ import annotations

import gradio as gr
import pytest

from components.predict import Outcome, Tally, ask, reveal


def test_verdict_says_whether_the_prediction_held_with_the_evidence():
    outcome = Outcome("Yes", "c_t kept 97 % of the first letter after 5 steps.")
    text, tally = reveal("forget", "Yes", outcome, Tally())
    assert "held" in text and "97 %" in text and (tally.asked, tally.right) == (1, 1)
    text, tally = reveal("other", "No", Outcome("Yes", "0.97"), tally)
    assert "the answer is **Yes**" in text and (tally.asked, tally.right) == (2, 1)
    assert "1 of 2 right" in text


def test_each_question_counts_once_per_session():
    tally = Tally()
    for _ in range(3):
        _, tally = reveal("q", "A", Outcome("A", ""), tally)
    assert (tally.asked, tally.right) == (1, 1)


def test_no_prediction_shows_the_answer_and_counts_nothing():
    text, tally = reveal("q", None, Outcome("B", "because"), Tally())
    assert "**B**" in text and tally.asked == 0
    assert reveal("q", "A", None, Tally()) == ("", Tally())


def test_a_question_has_two_to_four_choices():
    with gr.Blocks():
        question = ask("q", "Will it?", ["Yes", "No"])
        with pytest.raises(ValueError):
            ask("q2", "Too many?", ["a", "b", "c", "d", "e"])
    assert question.choice.choices == [("Yes", "Yes"), ("No", "No")]
