"""The pipelines core: input limits, offline messages, the sampling filter against
transformers' own warpers, similarity / zero-shot on the packaged MiniLM, images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from playground.hf import pipelines as pl
from playground.service.model_service import DEFAULT_ENCODER, ModelUnavailable


# --- input limits ------------------------------------------------------------------------------
def test_batch_is_one_text_per_line_and_blank_lines_are_dropped():
    assert pl.parse_batch("  first \n\n second\n") == ["first", "second"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n  ", "empty"), (None, "empty"),
    ("\n".join(["a review"] * 1000), "1,000 lines"),
    ("x" * 100_000, "100,000 characters"),
    ("y" * (pl.MAX_LINE_CHARS + 1), "Line 1"),
    (42, "must be text"),
])
def test_bad_batches_get_clear_messages(text, message):
    with pytest.raises(ValueError, match=message):
        pl.parse_batch(text)


def test_zero_shot_labels_need_two_to_ten():
    assert pl.parse_labels("sports, politics,sports , tech") == ["sports", "politics", "tech"]
    with pytest.raises(ValueError, match="at least two"):
        pl.parse_labels("sports")
    with pytest.raises(ValueError, match="limit"):
        pl.parse_labels(",".join(f"l{k}" for k in range(11)))


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="Unknown task"):
        pl.task_spec("translation_xx")


# --- offline: tasks without a local model name their hub default ------------------------------
@pytest.mark.parametrize("task", ["fill-mask", "token-classification"])
def test_tasks_without_offline_model_name_the_hub_default(task):
    spec = pl.TASKS[task]
    with pytest.raises(ModelUnavailable) as err:
        pl.resolve(spec, "")
    assert "offline" in str(err.value) and spec.hub_default in str(err.value)


def test_summarization_runs_offline_on_the_packaged_chat_model():
    spec = pl.TASKS["summarization"]
    assert pl.resolve(spec, "").id == pl.SMOLLM2
    text = ("The Transformer replaced recurrence with attention. Every token looks at every other "
            "token in one step, so training runs in parallel on GPUs.")
    result = pl.run_task("summarization", pl.TaskInput(text=text), "")
    summary = result.rows[0].text
    assert summary.strip() and summary.strip() != text


def test_a_hub_id_offline_says_so_and_lists_local_models():
    with pytest.raises(ModelUnavailable, match="not reachable") as err:
        pl.classify(["great"], "distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert pl.SENTIMENT_MODEL in str(err.value)


def test_a_model_for_another_task_is_refused():
    with pytest.raises(ModelUnavailable, match="cannot do"):
        pl.resolve(pl.TASKS["sentiment-analysis"], DEFAULT_ENCODER)


# --- text generation through the real pipeline (the shipped tiny GPT-2) ----------------------
def test_generation_is_deterministic_with_a_seed_and_respects_max_tokens():
    kwargs = dict(max_new_tokens=12, temperature=1.0, top_k=50, top_p=0.95)
    first = pl.generate("this movie is", seed=3, **kwargs)
    again = pl.generate("this movie is", seed=3, **kwargs)
    other = pl.generate("this movie is", seed=4, **kwargs)
    assert first.tokens == again.tokens and first.text == again.text
    assert first.tokens != other.tokens
    assert 1 <= len(first.tokens) <= 12 and len(first.probs) == len(first.tokens)
    assert all(0 < p <= 1 for p in first.probs)  # every drawn token had a chance under the filters
    assert "manual_seed(3)" in first.run.code and "top_p=0.95" in first.run.code


def test_greedy_pipeline_run_matches_the_step_by_step_decoder():
    """The pipeline's greedy text = argmax at every step, each with probability 1."""
    from playground.text.generation import SamplingConfig, generate, load_reviews_gpt2

    result = pl.generate("the acting was", max_new_tokens=10, temperature=0)
    loaded = load_reviews_gpt2()
    steps = generate(loaded.model, loaded.tokenizer, "the acting was",
                     SamplingConfig(max_new_tokens=10, temperature=0.0))
    assert result.text == steps.completion
    assert result.probs == tuple(1.0 for _ in result.tokens)


def test_generation_settings_are_validated():
    with pytest.raises(ValueError, match="NaN"):
        pl.generate("a", temperature=float("nan"))
    result = pl.generate("a", max_new_tokens=10_000, temperature=0)
    assert any("Max new tokens" in note for note in result.run.notes)


# --- feature extraction, similarity, zero-shot on the packaged MiniLM -------------------------
def test_paraphrases_are_more_similar_than_unrelated_sentences():
    texts = ["A man is playing a guitar.", "Someone is playing an instrument.",
             "The stock market fell sharply today.", "Share prices dropped a lot."]
    result = pl.similarity(texts)
    sim = result.similarity
    assert sim.shape == (4, 4) and result.dim == 384
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(sim, sim.T, atol=1e-6)
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[2, 3] > sim[1, 3] + 0.3


def test_zero_shot_offline_picks_the_right_label_by_embeddings():
    texts = ["The team scored in the last minute to win the cup.",
             "Parliament votes on the new budget tomorrow.",
             "This phone's battery easily lasts two days."]
    result = pl.zero_shot(texts, ["sports", "politics", "technology"], DEFAULT_ENCODER)
    assert [row.labels[0] for row in result.rows] == ["sports", "politics", "technology"]
    assert result.score_name == "cosine similarity" and result.run.notes


def test_zero_shot_template_needs_one_slot():
    with pytest.raises(ValueError, match="exactly one"):
        pl.zero_shot(["x"], ["a", "b"], DEFAULT_ENCODER, template="no slot")


# --- images: the core takes decoded pictures ------------------------------------------------
def test_pictures_come_from_arrays_or_pil_images():
    array = np.zeros((50, 40, 4), dtype=np.uint8)
    assert pl.as_picture(array).size == (40, 50)
    assert pl.as_picture(Image.new("L", (7, 5))).size == (7, 5)
    with pytest.raises(ValueError, match="draw a digit"):
        pl.as_picture(None)
    with pytest.raises(ValueError, match="not an image"):
        pl.as_picture(np.zeros((3, 3, 7)))
    with pytest.raises(ValueError, match="Expected a picture"):
        pl.as_picture({"composite": array})  # UI payloads are decoded in components/images.py
    with pytest.raises(ValueError, match="megapixels"):
        pl.as_picture(np.zeros((4000, 4000), dtype=np.uint8))


# --- one text generator: the readable decoder, per-run random numbers --------------------------
def test_same_seed_same_text_from_two_threads_at_once():
    """Each run owns its torch.Generator: runs side by side do not disturb each other."""
    from concurrent.futures import ThreadPoolExecutor

    kwargs = dict(max_new_tokens=20, temperature=1.2, top_k=0, top_p=1.0)
    alone = [pl.generate("the plot", seed=seed, **kwargs).text for seed in (5, 6)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda seed: pl.generate("the plot", seed=seed, **kwargs).text, [5, 6, 5, 6]))
    assert together == alone * 2 and alone[0] != alone[1]


def test_generation_is_the_step_by_step_decoder():
    from playground.text.generation import SamplingConfig, generate, load_reviews_gpt2

    loaded = load_reviews_gpt2()
    ours = generate(loaded.model, loaded.tokenizer, "the acting was",
                    SamplingConfig(max_new_tokens=15, temperature=0.9, top_k=30, top_p=0.9, seed=11))
    result = pl.generate("the acting was", max_new_tokens=15, temperature=0.9, top_k=30, top_p=0.9, seed=11)
    assert result.generation == ours


def test_prompt_longer_than_the_context_is_cut_with_a_note():
    """Prompt + new tokens over the tiny GPT's 128 positions used to raise IndexError."""
    result = pl.generate("what a great film, " * 60, max_new_tokens=60, temperature=0)
    assert len(result.generation.prompt_ids) + 60 <= 128 and len(result.tokens) >= 1
    assert any("only its last 68" in note for note in result.run.notes)
