"""Fine-tuning a pretrained encoder for text classification, in a plain PyTorch loop.

Devlin et al. 2019 (BERT, https://arxiv.org/abs/1810.04805): put a small classification
head on a pretrained encoder and train on labelled examples. Howard & Ruder 2018 (ULMFiT,
https://arxiv.org/abs/1801.06146): the lower layers hold general language knowledge, so
training only the head or the top layers is cheap and often enough.

What the head reads: all-MiniLM-L6-v2 was trained (Reimers & Gurevych 2019, Sentence-BERT,
https://arxiv.org/abs/1908.10084) to MEAN-POOL its last hidden states into one sentence
vector. Its BERT pooler (tanh(W·[CLS])) was never trained and barely varies from text to
text (std 0.036 against 0.18 for the mean-pooled vector), so a head on the pooler answers
the same class for everything after a small run. ``mean_pool`` is the head's input here.

Frozen layers are computed once: in "head" and "last N" modes the embeddings and the
bottom layers do not change, so their output for every example is computed before
training and each step runs only the layers that train (the head alone is a linear probe
on cached sentence vectors, and takes seconds). Two baselines say what the accuracy is
worth: the majority class, and logistic regression on the frozen mean-pooled embeddings.

Randomness belongs to the run: one ``torch.Generator`` seeded with the run's seed draws the
head's start and the batch order; dropout is off, so the same seed gives the same model
while other students train at the same time.

The run streams: ``FinetuneRun.start`` trains in a worker thread, ``snapshots`` yields
``FinetuneSnapshot``s (numbers only). Stop (the button), a time limit or a consumer that
went away end training after the current step; nothing waits for the worker.
"""

from __future__ import annotations

import copy
import functools
import math
import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from playground.hf.datasets_view import LabelledData
from playground.service.model_service import DEFAULT_ENCODER, cache_dir, get_service
from playground.service.validate import clamp

if TYPE_CHECKING:
    import torch

TRAIN_MODES = {"head": "head only (fast)", "last": "last N layers + head", "full": "all layers (full)"}
# A learning rate that works for each mode: a new linear head moves far from its random start;
# pretrained layers need small steps, and all layers at once smaller still (Devlin et al. 2019).
MODE_LEARNING_RATES = {"head": 3e-3, "last": 2e-4, "full": 5e-5}
TASKS = ("text-classification", "sentiment-analysis")
MAX_TRAIN = 4000
MAX_STEPS = 2000
MAX_SAVED_MODELS = 3  # per session: a saved model is ~87 MB on a shared disk
SESSION_MAX_AGE_S = 3 * 3600  # session folders older than this are removed
SHOWCASE = 8  # held-out examples shown before/after
FROZEN_BATCH = 64  # examples per forward pass through the frozen layers
MEAN_POOLING_TYPE = "bert-mean-pooling"
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


@dataclass(frozen=True)
class FinetuneConfig:
    model_id: str = DEFAULT_ENCODER
    train_mode: str = "last"  # "head" | "last" | "full"
    last_layers: int = 2  # with "last": how many top encoder layers train
    n_train: int = 1000  # training examples drawn from the dataset
    n_eval: int = 200  # held-out examples for accuracy
    epochs: int = 2
    learning_rate: float = MODE_LEARNING_RATES["last"]
    max_length: int = 64  # tokens per example; longer texts are cut
    batch_size: int = 16
    seed: int = 0
    max_seconds: float = 120  # wall-clock limit; training stops and keeps what it learned

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs


def check_config(cfg: FinetuneConfig, n_rows: int) -> tuple[FinetuneConfig, list[str]]:
    """Clamp every number into a range that trains in bounded time; say what changed."""
    if cfg.train_mode not in TRAIN_MODES:
        raise ValueError(f"Unknown training mode '{cfg.train_mode}'. Choose: {', '.join(TRAIN_MODES)}.")
    notes: list[str] = []

    def fit(value: object, low: float, high: float, name: str, integer: bool = True) -> float:
        number, note = clamp(value, low, high, name, integer)
        if note:
            notes.append(note)
        return number

    n_eval = int(fit(cfg.n_eval, 4, 1000, "Held-out examples"))
    n_eval = min(n_eval, max(4, n_rows // 5))  # never eat more than a fifth of the data
    n_train = int(fit(cfg.n_train, 8, MAX_TRAIN, "Training examples"))
    if n_train > n_rows - n_eval:
        n_train = n_rows - n_eval
        notes.append(f"The dataset has {n_rows:,} rows: {n_train:,} train, {n_eval:,} held out.")
    checked = replace(
        cfg, n_train=n_train, n_eval=n_eval,
        last_layers=int(fit(cfg.last_layers, 1, 24, "Layers to train")),
        epochs=int(fit(cfg.epochs, 1, 20, "Epochs")),
        learning_rate=fit(cfg.learning_rate, 1e-6, 1e-2, "Learning rate", integer=False),
        max_length=int(fit(cfg.max_length, 8, 256, "Max length")),
        batch_size=int(fit(cfg.batch_size, 2, 64, "Batch size")),
        seed=int(fit(cfg.seed, 0, 2**31 - 1, "Seed")),
        max_seconds=fit(cfg.max_seconds, 5, 300, "Time limit (s)", integer=False),
    )
    if checked.total_steps > MAX_STEPS:
        epochs = max(1, MAX_STEPS // checked.steps_per_epoch)
        notes.append(f"{checked.total_steps:,} steps is too many for a shared CPU; "
                     f"epochs set to {epochs}.")
        checked = replace(checked, epochs=epochs)
    return checked, notes


@dataclass(frozen=True)
class Baselines:
    """What an accuracy is worth: numbers any classifier must beat on the same held-out set."""

    majority: float  # always answering the most common training label
    frozen_embedding: float  # logistic regression on the frozen mean-pooled embeddings
    majority_label: str


@dataclass(frozen=True)
class FinetuneSnapshot:
    step: int
    total_steps: int
    epoch: float
    loss_steps: np.ndarray  # (n_logged,) steps where the training loss was logged
    losses: np.ndarray  # (n_logged,) mean training loss since the previous log
    eval_steps: np.ndarray  # (n_evals,) steps where held-out accuracy was measured (0 = before)
    eval_accuracy: np.ndarray  # (n_evals,) accuracy on the held-out examples
    baselines: Baselines | None
    elapsed_s: float
    examples_per_s: float  # training steps only, evaluation excluded
    single_answer: str = ""  # a label the model gave to EVERY held-out example at the last evaluation
    done: bool = False
    stop_reason: str = ""  # "finished", "stopped", "time limit"


@dataclass(frozen=True)
class Comparison:
    """Base (untrained head) vs fine-tuned, on the same held-out examples."""

    texts: tuple[str, ...]
    true_labels: tuple[str, ...]
    base_labels: tuple[str, ...]
    base_confidence: tuple[float, ...]
    tuned_labels: tuple[str, ...]
    tuned_confidence: tuple[float, ...]
    base_accuracy: float  # on all n_eval held-out examples
    tuned_accuracy: float
    baselines: Baselines | None


@dataclass(frozen=True)
class SavedModel:
    model_id: str  # how the Pipelines tab lists it for this session
    folder: Path


# --- the model ----------------------------------------------------------------------------------
def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H) hidden states, (B, T) 0/1 mask -> (B, H): the average over real tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@functools.cache
def classifier_class() -> type:
    """``MeanPoolingBertClassifier``: BERT + mean pooling + a linear head, as a transformers
    model (save_pretrained, from_pretrained and pipeline("text-classification") work). It is
    registered with the Auto classes under model_type "bert-mean-pooling"."""
    from torch import nn
    from transformers import (AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel,
                              BertPreTrainedModel)
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolingBertConfig(BertConfig):
        model_type = MEAN_POOLING_TYPE

    class MeanPoolingBertClassifier(BertPreTrainedModel):
        config_class = MeanPoolingBertConfig

        def __init__(self, config: MeanPoolingBertConfig) -> None:
            super().__init__(config)
            self.bert = BertModel(config, add_pooling_layer=False)
            self.classifier = nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,  # noqa: ANN001
                    **kwargs) -> SequenceClassifierOutput:
            if attention_mask is None:
                attention_mask = input_ids.new_ones(input_ids.shape)
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            logits = self.classifier(mean_pool(hidden, attention_mask))
            loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
            return SequenceClassifierOutput(loss=loss, logits=logits)

    AutoConfig.register(MEAN_POOLING_TYPE, MeanPoolingBertConfig)
    AutoModelForSequenceClassification.register(MeanPoolingBertConfig, MeanPoolingBertClassifier)
    return MeanPoolingBertClassifier


def new_head(hidden_size: int, n_labels: int, generator: torch.Generator) -> torch.nn.Linear:
    """A linear head drawn from the run's generator: N(0, 0.02) weights (BERT's
    initializer_range), zero bias."""
    import torch

    head = torch.nn.Linear(hidden_size, n_labels, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        torch.nn.init.normal_(head.weight, std=0.02, generator=generator)
        head.bias.zero_()
    return head


def build_classifier(model_id: str, label_names: Sequence[str], generator: torch.Generator
                     ) -> tuple[Any, Any]:
    """A fresh classifier = a COPY of the shared pretrained encoder + a new random head.

    The encoder comes from the model service's cache and is shared by every student, so it
    is copied, never trained in place. The model's shell is made on the meta device (no
    weights, no random draws); the copied encoder and the seeded head are put into it."""
    import torch

    base = get_service().load(model_id, "AutoModel")
    cls = classifier_class()
    settings = {k: v for k, v in base.model.config.to_dict().items()
                if k not in ("model_type", "architectures", "id2label", "label2id", "num_labels")}
    config = cls.config_class(**settings, id2label=dict(enumerate(label_names)),
                              label2id={name: k for k, name in enumerate(label_names)})
    with torch.device("meta"):
        model = cls(config)
    encoder = copy.deepcopy(base.model)
    encoder.pooler = None  # the head reads mean-pooled states, never the untrained pooler
    model.bert = encoder
    model.classifier = new_head(config.hidden_size, len(label_names), generator)
    return model.to(base.device).eval(), base.tokenizer


def n_frozen_layers(model: Any, mode: str, last_layers: int = 1) -> int | None:
    """Encoder layers that stay fixed (None in "full": embeddings train too)."""
    n_layers = len(model.bert.encoder.layer)
    return {"head": n_layers, "last": max(0, n_layers - last_layers), "full": None}[mode]


def trainable_prefixes(model: Any, mode: str, last_layers: int = 1) -> tuple[str, ...] | None:
    """Parameter-name prefixes that train in ``mode`` (None: everything trains)."""
    frozen = n_frozen_layers(model, mode, last_layers)
    if frozen is None:
        return None
    layers = [f"bert.encoder.layer.{k}." for k in range(frozen, len(model.bert.encoder.layer))]
    return (*layers, "classifier.")


def choose_trainable(model: Any, mode: str, last_layers: int = 1) -> tuple[int, int]:
    """Freeze what the mode keeps fixed; return (trainable weights, all weights)."""
    prefixes = trainable_prefixes(model, mode, last_layers)
    for name, param in model.named_parameters():
        param.requires_grad = prefixes is None or name.startswith(prefixes)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def predict_proba(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int,
                  batch_size: int = 32) -> np.ndarray:
    """(n_texts, n_labels) class probabilities (the full model, from text)."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[start:start + batch_size]), truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt").to(model.device)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels))


# --- frozen layers once, trainable layers every step --------------------------------------------
def additive_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T) 0/1 mask -> (B, 1, 1, T) added to attention scores: padding gets -inf-ish."""
    import torch

    return (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def pad(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example (T_i, H) states -> (B, T, H) zero-padded states and their (B, T) mask."""
    import torch

    longest = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for k, s in enumerate(states):
        hidden[k, :s.shape[0]], mask[k, :s.shape[0]] = s, 1
    return hidden, mask


def pad_ids(token_ids: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> (B, T) ids padded with 0 ([PAD]) and their (B, T) mask."""
    import torch

    longest = max(len(t) for t in token_ids)
    ids = torch.zeros(len(token_ids), longest, dtype=torch.long)
    mask = torch.zeros(len(token_ids), longest, dtype=torch.long)
    for k, t in enumerate(token_ids):
        ids[k, :len(t)], mask[k, :len(t)] = torch.tensor(t), 1
    return ids, mask


class Interrupted(Exception):
    """Stop was asked while the frozen layers were still being computed."""


def frozen_states(model: Any, token_ids: Sequence[list[int]], n_frozen: int,
                  stop: threading.Event | None = None) -> list[torch.Tensor]:
    """Each example's (T_i, H) hidden states after the embeddings and the bottom ``n_frozen``
    layers: computed once, because those weights never change during the run."""
    import torch

    bert, out = model.bert, []
    with torch.inference_mode():
        for start in range(0, len(token_ids), FROZEN_BATCH):
            if stop is not None and stop.is_set():
                raise Interrupted

            chunk = token_ids[start:start + FROZEN_BATCH]
            ids, mask = pad_ids(chunk)
            hidden = bert.embeddings(input_ids=ids)
            for layer in bert.encoder.layer[:n_frozen]:
                hidden = layer(hidden, attention_mask=additive_mask(mask))
            out += [hidden[k, :len(t)].clone() for k, t in enumerate(chunk)]
    return out


def top_logits(model: Any, hidden: torch.Tensor, mask: torch.Tensor, n_frozen: int) -> torch.Tensor:
    """The trainable part: layers n_frozen.. on cached states, mean pooling, the head."""
    for layer in model.bert.encoder.layer[n_frozen:]:
        hidden = layer(hidden, attention_mask=additive_mask(mask))
    return model.classifier(mean_pool(hidden, mask))


class Examples:
    """A split ready for training: labels plus either cached frozen states or token ids."""

    def __init__(self, model: Any, tokenizer: Any, texts: Sequence[str], labels: Sequence[int],
                 max_length: int, n_frozen: int | None, stop: threading.Event | None = None) -> None:
        import torch

        self.labels = torch.tensor(list(labels), dtype=torch.long)
        self.token_ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        self.n_frozen = n_frozen
        self.states = frozen_states(model, self.token_ids, n_frozen, stop) if n_frozen is not None else None

    def __len__(self) -> int:
        return len(self.token_ids)

    def logits(self, model: Any, index: Sequence[int]) -> torch.Tensor:
        """Logits of the examples at ``index``, with gradients where weights train."""
        import torch

        if self.states is not None:
            hidden, mask = pad([self.states[k] for k in index])
            return top_logits(model, hidden, mask, self.n_frozen)
        ids, mask = pad_ids([self.token_ids[k] for k in index])
        return model(input_ids=ids, attention_mask=mask).logits

    def predictions(self, model: Any, batch_size: int = 64) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return np.concatenate([self.logits(model, range(s, min(s + batch_size, len(self)))).argmax(-1).numpy()
                                   for s in range(0, len(self), batch_size)])

    def pooled(self, model: Any, batch_size: int = 64) -> np.ndarray:
        """(n, H) mean-pooled sentence vectors of the model as it is (for the baseline)."""
        import torch

        features = []
        with torch.inference_mode():
            for start in range(0, len(self), batch_size):
                index = range(start, min(start + batch_size, len(self)))
                if self.states is not None:
                    hidden, mask = pad([self.states[k] for k in index])
                    for layer in model.bert.encoder.layer[self.n_frozen:]:
                        hidden = layer(hidden, attention_mask=additive_mask(mask))
                else:
                    ids, mask = pad_ids([self.token_ids[k] for k in index])
                    hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
                features.append(mean_pool(hidden, mask).numpy())
        return np.concatenate(features)


def measure_baselines(train_features: np.ndarray, train_labels: np.ndarray, eval_features: np.ndarray,
                      eval_labels: np.ndarray, label_names: Sequence[str]) -> Baselines:
    """Majority class and logistic regression on frozen embeddings, on the held-out set."""
    from sklearn.linear_model import LogisticRegression

    majority = int(np.bincount(train_labels, minlength=len(label_names)).argmax())
    probe = LogisticRegression(max_iter=2000).fit(train_features, train_labels)
    return Baselines(majority=float(np.mean(eval_labels == majority)),
                     frozen_embedding=float(probe.score(eval_features, eval_labels)),
                     majority_label=label_names[majority])


# --- the run ------------------------------------------------------------------------------------
class SessionBusy(ValueError):
    """This session already has a fine-tune running."""


_runs_lock = threading.Lock()
_runs: dict[str, FinetuneRun] = {}  # each session's latest run: at most one trains at a time


def session_run(session: str) -> FinetuneRun | None:
    """The session's latest run (None after the session ended)."""
    with _runs_lock:
        return _runs.get(session)


class FinetuneRun:
    """One student's run: data split, model copy, training in a worker thread.

    A session holds one run at a time: making a new one while the last still trains raises
    SessionBusy; a finished one is released (its model copy freed)."""

    def __init__(self, cfg: FinetuneConfig, data: LabelledData, session: str) -> None:
        import torch

        self.cfg = cfg
        self.data = data
        self.session = session
        self.stop_event = threading.Event()  # Stop button or time limit: end, then measure
        self.abandoned = threading.Event()  # nobody is watching: end without measuring
        self.finished = threading.Event()  # the worker has ended (or never started)
        self.last: FinetuneSnapshot | None = None
        self._events: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._claim()
        try:
            self.work_dir = get_service().session_dir(session)
            self.work_dir.touch()  # a session that trains is alive: the age sweep measures from here
            shuffled = data.dataset.shuffle(seed=cfg.seed, keep_in_memory=True)
            self.eval_set = shuffled.select(range(cfg.n_eval), keep_in_memory=True)
            self.train_set = shuffled.select(range(cfg.n_eval, cfg.n_eval + cfg.n_train), keep_in_memory=True)
            self.generator = torch.Generator().manual_seed(cfg.seed)  # the run's own randomness
            self.model, self.tokenizer = build_classifier(cfg.model_id, data.label_names, self.generator)
            self.trainable, self.total = choose_trainable(self.model, cfg.train_mode, cfg.last_layers)
            self.prefixes = trainable_prefixes(self.model, cfg.train_mode, cfg.last_layers)
            self.showcase = self.eval_set.select(range(min(SHOWCASE, cfg.n_eval)))
            self.base_probs = predict_proba(self.model, self.tokenizer, list(self.showcase["text"]),
                                            cfg.max_length)
        except BaseException:
            self.finished.set()
            raise

    def _claim(self) -> None:
        with _runs_lock:
            previous = _runs.get(self.session)
            if previous is not None and not previous.finished.is_set():
                self.finished.set()
                raise SessionBusy("This session is already fine-tuning. Press Stop, or wait until it "
                                  "finishes, before starting another run.")
            _runs[self.session] = self
        if previous is not None:
            previous.release()  # its gr.State is about to hold this run instead

    # --- control ----------------------------------------------------------------------------
    def start(self) -> None:
        """Train in a worker thread; progress arrives through ``snapshots()``."""
        self._worker = threading.Thread(target=self._fit, daemon=True, name=f"finetune-{self.session}")
        self._worker.start()

    def stop(self) -> None:
        """End after the current step, then measure the model as it is (the Stop button)."""
        self.stop_event.set()

    def abandon(self) -> None:
        """Nobody will read the result (tab closed, client cancelled): end soon, measure
        nothing. Only sets flags: it is called on Gradio's event loop and must not wait."""
        self.abandoned.set()
        self.stop_event.set()

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def release(self) -> None:
        """Free the model copy and the data (session ended). Signals a running worker to end."""
        self.abandon()
        if not self.running:
            self.model = self.tokenizer = self.train_set = self.eval_set = None

    def snapshots(self, idle_s: float | None = None) -> Iterator[FinetuneSnapshot | None]:
        """Progress of the worker until it is done. Closing this generator abandons the run
        and returns at once: the worker ends by itself after its current step.

        With ``idle_s``, None is yielded whenever nothing new arrived for that long, so a
        consumer is never stuck inside ``next()`` (Gradio can only close a stream between
        two items: a cancel waits for the next one)."""
        if self._worker is None:
            self.start()
        try:
            while True:
                try:
                    item = self._events.get(timeout=idle_s)
                except queue.Empty:
                    yield None
                    continue
                if isinstance(item, BaseException):
                    raise item
                self.last = item
                yield item
                if item.done:
                    return
        finally:
            if self.last is None or not self.last.done:
                self.abandon()

    def train(self) -> Iterator[FinetuneSnapshot]:
        """Start and stream (what a script does)."""
        self.start()
        return self.snapshots()

    # --- the worker ---------------------------------------------------------------------------
    def _fit(self) -> None:
        try:
            self._train_loop()
        except Interrupted:
            if not self.abandoned.is_set():  # Stop before the first step: nothing was learned
                self._events.put(FinetuneSnapshot(0, self.cfg.total_steps, 0.0, *[np.zeros(0)] * 4, None,
                                                  0.0, 0.0, done=True, stop_reason="stopped"))
        except BaseException as err:  # noqa: BLE001 - hand every failure to the consumer
            self._events.put(err)
        finally:
            self.finished.set()
            if self.abandoned.is_set():
                self.release()

    def _train_loop(self) -> None:
        import torch

        cfg, model, start = self.cfg, self.model, time.monotonic()
        frozen = n_frozen_layers(model, cfg.train_mode, cfg.last_layers)
        train = Examples(model, self.tokenizer, self.train_set["text"], self.train_set["label"],
                         cfg.max_length, frozen, self.stop_event)
        held_out = Examples(model, self.tokenizer, self.eval_set["text"], self.eval_set["label"],
                            cfg.max_length, frozen, self.stop_event)
        baselines = measure_baselines(train.pooled(model), train.labels.numpy(), held_out.pooled(model),
                                      held_out.labels.numpy(), self.data.label_names)
        log = Progress(cfg, baselines, start)
        log.evaluate(0, held_out.predictions(model), held_out.labels.numpy(), self.data.label_names)
        self._events.put(log.snapshot())
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
        every_eval, every_log = eval_every(cfg), log_every(cfg)
        step, train_seconds, reason = 0, 0.0, "finished"
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(train), generator=self.generator).tolist()
            for first in range(0, len(train), cfg.batch_size):
                if self.stop_event.is_set() or time.monotonic() - start > cfg.max_seconds:
                    reason = "stopped" if self.stop_event.is_set() else "time limit"
                    break
                tick = time.monotonic()
                index = order[first:first + cfg.batch_size]
                loss = torch.nn.functional.cross_entropy(train.logits(model, index), train.labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                train_seconds += time.monotonic() - tick
                log.add_loss(step, loss.item(), epoch + (first + len(index)) / len(train),
                             step * cfg.batch_size / train_seconds)
                if step % every_log == 0:
                    self._events.put(log.flush_losses())
                if step % every_eval == 0 and step < cfg.total_steps:
                    log.evaluate(step, held_out.predictions(model), held_out.labels.numpy(), self.data.label_names)
                    self._events.put(log.snapshot())
            else:
                continue
            break
        if self.abandoned.is_set():
            return
        log.flush_losses()
        if not log.eval_steps or log.eval_steps[-1] != step:
            log.evaluate(step, held_out.predictions(model), held_out.labels.numpy(), self.data.label_names)
        self._events.put(log.snapshot(done=True, stop_reason=reason))

    def compare(self) -> Comparison:
        names = self.data.label_names
        tuned = predict_proba(self.model, self.tokenizer, list(self.showcase["text"]), self.cfg.max_length)
        accuracies = self.last.eval_accuracy if self.last is not None else np.zeros(0)
        return Comparison(
            texts=tuple(self.showcase["text"]),
            true_labels=tuple(names[k] for k in self.showcase["label"]),
            base_labels=tuple(names[k] for k in self.base_probs.argmax(1)),
            base_confidence=tuple(float(p) for p in self.base_probs.max(1)),
            tuned_labels=tuple(names[k] for k in tuned.argmax(1)),
            tuned_confidence=tuple(float(p) for p in tuned.max(1)),
            base_accuracy=float(accuracies[0]) if accuracies.size else float("nan"),
            tuned_accuracy=float(accuracies[-1]) if accuracies.size else float("nan"),
            baselines=self.last.baselines if self.last is not None else None,
        )


def eval_every(cfg: FinetuneConfig) -> int:
    return max(1, cfg.total_steps // 5)  # five accuracy points during training


def log_every(cfg: FinetuneConfig) -> int:
    return max(1, cfg.total_steps // 60)  # about 60 points on the loss curve


class Progress:
    """The numbers a snapshot carries, collected while the worker trains."""

    def __init__(self, cfg: FinetuneConfig, baselines: Baselines, start: float) -> None:
        self.cfg, self.baselines, self.start = cfg, baselines, start
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.pending: list[float] = []  # losses since the last logged point
        self.eval_steps: list[int] = []
        self.accuracy: list[float] = []
        self.single_answer = ""
        self.step, self.epoch, self.examples_per_s = 0, 0.0, 0.0

    def add_loss(self, step: int, loss: float, epoch: float, examples_per_s: float) -> None:
        self.step, self.epoch, self.examples_per_s = step, epoch, examples_per_s
        self.pending.append(loss)

    def flush_losses(self) -> FinetuneSnapshot:
        if self.pending:
            self.loss_steps.append(self.step)
            self.losses.append(float(np.mean(self.pending)))
            self.pending = []
        return self.snapshot()

    def evaluate(self, step: int, predicted: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> None:
        self.eval_steps.append(step)
        self.accuracy.append(float(np.mean(predicted == labels)))
        answers = np.unique(predicted)
        self.single_answer = names[int(answers[0])] if answers.size == 1 else ""

    def snapshot(self, done: bool = False, stop_reason: str = "") -> FinetuneSnapshot:
        return FinetuneSnapshot(
            self.step, self.cfg.total_steps, self.epoch, np.array(self.loss_steps), np.array(self.losses),
            np.array(self.eval_steps), np.array(self.accuracy), self.baselines,
            time.monotonic() - self.start, self.examples_per_s, self.single_answer, done, stop_reason)


# --- saving, sharing, cleaning up ---------------------------------------------------------------
def check_model_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not _MODEL_NAME.fullmatch(name):
        raise ValueError("A model name uses lower-case letters, digits and '-' (at most 48), "
                         "e.g. 'my-movie-sentiment'.")
    return name


def saved_models(session: str) -> list[Path]:
    """This session's saved model folders, oldest first."""
    root = get_service().session_dir(session) / "models"
    folders = [f for f in root.iterdir() if f.is_dir()] if root.is_dir() else []
    return sorted(folders, key=lambda f: f.stat().st_mtime)


def save_model(run: FinetuneRun, name: str) -> tuple[SavedModel, str]:
    """save_pretrained into the session's folder and list it for this session's pipelines.

    A session keeps at most MAX_SAVED_MODELS: saving one more replaces the oldest (said in
    the returned note)."""
    name = check_model_name(name)
    if run.model is None:
        raise ValueError("This run's model was released (the session ended); fine-tune again.")
    service = get_service()
    folder = service.session_dir(run.session) / "models" / name
    note = ""
    if folder.exists():
        shutil.rmtree(folder)  # saving again under the same name replaces the old model
    others = saved_models(run.session)
    while len(others) >= MAX_SAVED_MODELS:
        oldest = others.pop(0)
        shutil.rmtree(oldest, ignore_errors=True)
        service.forget_session_model(run.session, f"finetuned/{oldest.name}")
        note = (f"A session keeps {MAX_SAVED_MODELS} saved models: the oldest, "
                f"`finetuned/{oldest.name}`, was deleted to make room.")
    run.model.save_pretrained(str(folder))
    run.tokenizer.save_pretrained(str(folder))
    (folder / "README.md").write_text(model_card(run, name))
    model_id = f"finetuned/{name}"
    service.register_session_model(
        run.session, model_id, folder, tasks=TASKS,
        description=f"{run.cfg.model_id} fine-tuned on {run.data.source} in this session.")
    return SavedModel(model_id, folder), note


def model_card(run: FinetuneRun, name: str) -> str:
    cfg, last = run.cfg, run.last
    accuracy = f"{last.eval_accuracy[-1]:.1%}" if last is not None and last.eval_accuracy.size else "n/a"
    baseline = (f"; logistic regression on the frozen embeddings {last.baselines.frozen_embedding:.1%}, "
                f"majority class {last.baselines.majority:.1%}"
                if last is not None and last.baselines is not None else "")
    return (f"# {name}\n\n{cfg.model_id} fine-tuned for text classification "
            f"({', '.join(run.data.label_names)}) in Neural Playground: mean pooling of the last "
            "hidden states, then a linear head (model_type bert-mean-pooling).\n\n"
            f"- data: {run.data.source}, {cfg.n_train} training examples, max length {cfg.max_length}\n"
            f"- trained: {TRAIN_MODES[cfg.train_mode]}, {cfg.epochs} epoch(s), lr {cfg.learning_rate:g}, "
            f"batch {cfg.batch_size}, seed {cfg.seed}\n"
            f"- held-out accuracy: {accuracy} on {cfg.n_eval} examples{baseline}\n")


def folder_size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def zip_model(saved: SavedModel, session: str) -> Path:
    """A zip of the saved folder in the session's downloads folder; a session keeps only
    its latest zip (Gradio serves a copy from its own cache, cleaned by delete_cache)."""
    downloads = get_service().session_dir(session) / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir()
    archive = shutil.make_archive(str(downloads / saved.folder.name), "zip", root_dir=saved.folder)
    return Path(archive)


def push_to_hub(saved: SavedModel, repo_id: str, token: str) -> str:
    """Upload the saved folder; the token is used for this call only and never kept or shown."""
    repo_id = (repo_id or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}", repo_id):
        raise ValueError("The hub repository looks like 'your-username/model-name'.")
    if not (token or "").strip():
        raise ValueError("Paste a Hugging Face access token with write permission.")
    if not get_service().hub.online():
        raise ValueError("Pushing to the hub needs the internet, and this app is offline "
                         "(no route to huggingface.co). Download the zip instead.")
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token.strip())
        api.create_repo(repo_id, exist_ok=True, private=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(saved.folder))
    except Exception as err:  # noqa: BLE001 - never echo the message: it may quote the token
        raise ValueError(f"The hub refused the upload ({type(err).__name__}): check the token's "
                         "write permission and the repository name.") from None
    return f"https://huggingface.co/{repo_id}"


def _sessions_root() -> Path:
    return cache_dir() / "sessions"


def end_session(session: str | None) -> None:
    """The session ended (tab closed or state expired): stop and free its run, forget its
    models and delete its folder. Never waits for a worker."""
    if not session or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session):
        return
    with _runs_lock:
        run = _runs.pop(session, None)
    if run is not None:
        run.release()
    get_service().forget_session(session)
    shutil.rmtree(_sessions_root() / session, ignore_errors=True)


def sweep_old_sessions(max_age_s: float = SESSION_MAX_AGE_S) -> list[str]:
    """Remove session folders untouched for ``max_age_s`` (crashed tabs, restarts)."""
    root, removed = _sessions_root(), []
    if not root.is_dir():
        return removed
    now = time.time()
    for folder in root.iterdir():
        if folder.is_dir() and now - folder.stat().st_mtime > max_age_s:
            end_session(folder.name)
            removed.append(folder.name)
    return removed
