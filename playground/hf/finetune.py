"""Fine-tuning a pretrained encoder for text classification with ``transformers.Trainer``.

Devlin et al. 2019 (BERT, https://arxiv.org/abs/1810.04805): put a small classification
head on the [CLS] vector of a pretrained encoder and train on labelled examples.
Howard & Ruder 2018 (ULMFiT, https://arxiv.org/abs/1801.06146): the lower layers hold
general language knowledge, so training only the head or the top layers is cheap and
often enough; training everything learns most but costs most.

The run streams: ``FinetuneRun.train`` is a generator of ``FinetuneSnapshot``s (numbers
only) fed by a ``TrainerCallback`` while ``Trainer.train()`` runs in a worker thread.
Stopping (the flag, a closed consumer or the time limit) ends training after the current
step and keeps every update made so far.
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
from typing import Any, Iterator, Sequence

import numpy as np

from playground.hf.datasets_view import LabelledData, tokenize_function
from playground.service.model_service import DEFAULT_ENCODER, cache_dir, get_service
from playground.service.validate import clamp

TRAIN_MODES = {"head": "head only", "last": "last N layers + head", "full": "all layers (full)"}
TASKS = ("text-classification", "sentiment-analysis")
MAX_TRAIN = 4000
MAX_STEPS = 2000
SESSION_MAX_AGE_S = 3 * 3600  # session folders older than this are removed
SHOWCASE = 8  # held-out examples shown before/after
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


@dataclass(frozen=True)
class FinetuneConfig:
    model_id: str = DEFAULT_ENCODER
    train_mode: str = "last"  # "head" | "last" | "full"
    last_layers: int = 1  # with "last": how many top encoder layers train
    n_train: int = 2000  # training examples drawn from the dataset
    n_eval: int = 200  # held-out examples for eval accuracy
    epochs: int = 1
    learning_rate: float = 1e-3  # the top layer + head; full fine-tuning wants ~5e-5
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
        epochs=int(fit(cfg.epochs, 1, 5, "Epochs")),
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
class FinetuneSnapshot:
    step: int
    total_steps: int
    epoch: float
    loss_steps: np.ndarray  # (n_logged,) steps where the training loss was logged
    losses: np.ndarray  # (n_logged,) mean training loss since the previous log
    eval_steps: np.ndarray  # (n_evals,) steps where held-out accuracy was measured (0 = before)
    eval_accuracy: np.ndarray  # (n_evals,) accuracy on the held-out examples
    elapsed_s: float
    examples_per_s: float  # training steps only, evaluation time excluded
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


@dataclass(frozen=True)
class SavedModel:
    model_id: str  # how the Pipelines tab lists it for this session
    folder: Path


# --- the model ----------------------------------------------------------------------------------
def build_classifier(model_id: str, label_names: Sequence[str], seed: int) -> tuple[Any, Any]:
    """A fresh classifier = a COPY of the shared pretrained encoder + a new, seeded random head.

    The encoder comes from the model service's cache and is shared by every student, so its
    weights are copied, never trained in place."""
    import torch
    from transformers import AutoModelForSequenceClassification

    base = get_service().load(model_id, "AutoModel")
    config = copy.deepcopy(base.model.config)
    config.num_labels = len(label_names)
    config.id2label = dict(enumerate(label_names))
    config.label2id = {name: k for k, name in enumerate(label_names)}
    torch.manual_seed(seed)  # the head's random start is part of the run's seed
    model = AutoModelForSequenceClassification.from_config(config)
    encoder = getattr(model, model.base_model_prefix)
    encoder.load_state_dict(base.model.state_dict())  # copies tensors: the cache stays untouched
    return model.to(base.device), base.tokenizer


def trainable_prefixes(model: Any, mode: str, last_layers: int = 1) -> tuple[str, ...] | None:
    """Parameter-name prefixes that train in ``mode`` (None: everything trains).

    head: the pooler and classifier; last: also the top ``last_layers`` encoder layers;
    full: everything, embeddings included."""
    if mode == "full":
        return None
    base = model.base_model_prefix + "."
    n_layers = int(getattr(model.config, "num_hidden_layers", 0))
    prefixes = set()
    for name, _ in model.named_parameters():
        layer = re.search(r"\.layers?\.(\d+)\.", name)
        if not name.startswith(base):
            prefixes.add(name.split(".")[0] + ".")  # the classifier head
        elif ".pooler." in name:
            prefixes.add(name[:name.index(".pooler.") + len(".pooler.")])
        elif mode == "last" and layer and int(layer.group(1)) >= n_layers - last_layers:
            prefixes.add(name[:layer.end()])
    return tuple(sorted(prefixes))


def choose_trainable(model: Any, mode: str, last_layers: int = 1) -> tuple[int, int]:
    """Freeze what the mode keeps fixed; return (trainable weights, all weights)."""
    prefixes = trainable_prefixes(model, mode, last_layers)
    for name, param in model.named_parameters():
        param.requires_grad = prefixes is None or name.startswith(prefixes)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def predict_proba(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int,
                  batch_size: int = 32) -> np.ndarray:
    """(n_texts, n_labels) class probabilities, in eval mode (no dropout)."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[start:start + batch_size]), truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt").to(model.device)
            out.append(torch.softmax(model(**enc).logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels))


# --- the run ------------------------------------------------------------------------------------
class FinetuneRun:
    """One student's run: data split, model copy, Trainer, and the model it leaves behind."""

    def __init__(self, cfg: FinetuneConfig, data: LabelledData, session: str) -> None:
        self.cfg = cfg
        self.data = data
        self.session = session
        self.stop_event = threading.Event()
        self.work_dir = get_service().session_dir(session)
        self.work_dir.touch()  # a session that trains is alive: the age sweep measures from here
        shuffled = data.dataset.shuffle(seed=cfg.seed, keep_in_memory=True)
        self.eval_set = shuffled.select(range(cfg.n_eval), keep_in_memory=True)
        self.train_set = shuffled.select(range(cfg.n_eval, cfg.n_eval + cfg.n_train), keep_in_memory=True)
        self.model, self.tokenizer = build_classifier(cfg.model_id, data.label_names, cfg.seed)
        self.trainable, self.total = choose_trainable(self.model, cfg.train_mode, cfg.last_layers)
        self.prefixes = trainable_prefixes(self.model, cfg.train_mode, cfg.last_layers)
        self.showcase = self.eval_set.select(range(min(SHOWCASE, cfg.n_eval)))
        self.base_probs = predict_proba(self.model, self.tokenizer, list(self.showcase["text"]), cfg.max_length)
        self.base_accuracy: float | None = None
        self.last: FinetuneSnapshot | None = None

    def stop(self) -> None:
        self.stop_event.set()

    def train(self) -> Iterator[FinetuneSnapshot]:
        """Run Trainer in a worker thread and yield its progress; closing this generator
        (or ``stop()``) ends training after the current step."""
        events: queue.Queue = queue.Queue()
        worker = threading.Thread(target=self._fit, args=(events,), daemon=True,
                                  name=f"finetune-{self.session}")
        worker.start()
        try:
            while True:
                item = events.get()
                if isinstance(item, BaseException):
                    raise item
                self.last = item
                yield item
                if item.done:
                    return
        finally:
            self.stop_event.set()  # the consumer left: Stop button, closed tab, or finished
            worker.join()

    def _fit(self, events: queue.Queue) -> None:
        try:
            trainer = self._trainer(events)
            trainer.train()
            # Training may have stopped mid-epoch: measure the model exactly as it is now.
            accuracy = trainer.evaluate()["eval_accuracy"]
            events.put(self._progress.final(accuracy))
        except BaseException as err:  # noqa: BLE001 - hand every failure to the consumer
            events.put(err)
        finally:
            self.model.eval()

    def _trainer(self, events: queue.Queue) -> Any:
        from transformers import Trainer
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        cfg = self.cfg
        tokenize = tokenize_function(self.tokenizer, cfg.max_length)
        train = self.train_set.map(tokenize, batched=True, keep_in_memory=True)
        held_out = self.eval_set.map(tokenize, batched=True, keep_in_memory=True)
        self._progress = stream_callback(self, events)
        trainer = Trainer(model=self.model, args=training_arguments(cfg, self.work_dir / "trainer"),
                          train_dataset=train, eval_dataset=held_out, processing_class=self.tokenizer,
                          compute_metrics=accuracy_metric, callbacks=[self._progress])
        for noisy in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(noisy)  # the server log is not the student's screen
        return trainer

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
        )


def training_kwargs(cfg: FinetuneConfig) -> dict[str, Any]:
    """The TrainingArguments a student would write for this run (the code panel prints them)."""
    return dict(
        per_device_train_batch_size=cfg.batch_size,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        eval_strategy="steps",
        eval_steps=eval_every(cfg),
        eval_on_start=True,  # accuracy before any training: the baseline
        logging_steps=log_every(cfg),
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
    )


def training_arguments(cfg: FinetuneConfig, output_dir: Path) -> Any:
    from transformers import TrainingArguments

    # output_dir is inside the session folder; with save_strategy="no" nothing is written there.
    return TrainingArguments(output_dir=str(output_dir), per_device_eval_batch_size=64,
                             use_cpu=True, disable_tqdm=True, **training_kwargs(cfg))


def eval_every(cfg: FinetuneConfig) -> int:
    return max(1, cfg.total_steps // 5)  # five accuracy points keep evaluation under ~15 % of time


def log_every(cfg: FinetuneConfig) -> int:
    return max(1, cfg.total_steps // 60)  # about 60 points on the loss curve


def accuracy_metric(prediction: Any) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"accuracy": float((np.asarray(logits).argmax(-1) == np.asarray(labels)).mean())}


class StreamProgress:
    """Collects losses and accuracies, enforces stop and time limit, pushes snapshots.
    Mixed into a TrainerCallback by ``stream_callback`` (transformers loads on first use)."""

    def __init__(self, run: FinetuneRun, events: queue.Queue) -> None:
        self.run = run
        self.events = events
        self.start = time.monotonic()
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.eval_steps: list[int] = []
        self.accuracy: list[float] = []
        self.step = 0
        self.epoch = 0.0
        self.stop_reason = "finished"
        self.step_started = 0.0
        self.train_seconds = 0.0  # time inside training steps only (evaluation excluded)

    def _snapshot(self, done: bool = False) -> FinetuneSnapshot:
        elapsed = time.monotonic() - self.start
        seen = self.step * self.run.cfg.batch_size
        return FinetuneSnapshot(
            self.step, self.run.cfg.total_steps, self.epoch, np.array(self.loss_steps),
            np.array(self.losses), np.array(self.eval_steps), np.array(self.accuracy),
            elapsed, seen / self.train_seconds if self.train_seconds > 0 else 0.0, done,
            self.stop_reason if done else "")

    def final(self, accuracy: float) -> FinetuneSnapshot:
        if not self.eval_steps or self.eval_steps[-1] != self.step:
            self.eval_steps.append(self.step)
            self.accuracy.append(float(accuracy))
        return self._snapshot(done=True)

    def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - Trainer's signature
        self.step_started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self.train_seconds += time.monotonic() - self.step_started
        self.step, self.epoch = state.global_step, float(state.epoch or 0.0)
        if self.run.stop_event.is_set():
            self.stop_reason, control.should_training_stop = "stopped", True
        elif time.monotonic() - self.start > self.run.cfg.max_seconds:
            self.stop_reason, control.should_training_stop = "time limit", True
        if control.should_training_stop:
            control.should_evaluate = False  # the final evaluation follows right away
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if logs and "loss" in logs and math.isfinite(logs["loss"]):
            self.loss_steps.append(state.global_step)
            self.losses.append(float(logs["loss"]))
            self.events.put(self._snapshot())

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        if metrics and "eval_accuracy" in metrics and state.global_step not in self.eval_steps:
            self.eval_steps.append(state.global_step)
            self.accuracy.append(float(metrics["eval_accuracy"]))
            self.events.put(self._snapshot())


@functools.cache
def _callback_class() -> type:
    from transformers import TrainerCallback

    class StreamCallback(StreamProgress, TrainerCallback):
        """StreamProgress's hooks replace TrainerCallback's no-ops."""

    return StreamCallback


def stream_callback(run: FinetuneRun, events: queue.Queue) -> StreamProgress:
    return _callback_class()(run, events)


# --- saving, sharing, cleaning up ---------------------------------------------------------------
def check_model_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not _MODEL_NAME.fullmatch(name):
        raise ValueError("A model name uses lower-case letters, digits and '-' (at most 48), "
                         "e.g. 'my-movie-sentiment'.")
    return name


def save_model(run: FinetuneRun, name: str) -> SavedModel:
    """save_pretrained into the session's folder and list it for this session's pipelines."""
    name = check_model_name(name)
    folder = get_service().session_dir(run.session) / "models" / name
    if folder.exists():
        shutil.rmtree(folder)  # saving again under the same name replaces the old model
    run.model.save_pretrained(str(folder))
    run.tokenizer.save_pretrained(str(folder))
    (folder / "README.md").write_text(model_card(run, name))
    model_id = f"finetuned/{name}"
    get_service().register_session_model(
        run.session, model_id, folder, tasks=TASKS,
        description=f"{run.cfg.model_id} fine-tuned on {run.data.source} in this session.")
    return SavedModel(model_id, folder)


def model_card(run: FinetuneRun, name: str) -> str:
    cfg, last = run.cfg, run.last
    accuracy = f"{last.eval_accuracy[-1]:.1%}" if last is not None and last.eval_accuracy.size else "n/a"
    return (f"# {name}\n\n{cfg.model_id} fine-tuned for text classification "
            f"({', '.join(run.data.label_names)}) in Neural Playground.\n\n"
            f"- data: {run.data.source}, {cfg.n_train} training examples, max length {cfg.max_length}\n"
            f"- trained: {TRAIN_MODES[cfg.train_mode]}, {cfg.epochs} epoch(s), lr {cfg.learning_rate:g}, "
            f"batch {cfg.batch_size}, seed {cfg.seed}\n"
            f"- held-out accuracy: {accuracy} on {cfg.n_eval} examples\n")


def folder_size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def zip_model(saved: SavedModel, session: str) -> Path:
    """A zip of the saved folder, written next to it in the session's folder."""
    downloads = get_service().session_dir(session) / "downloads"
    downloads.mkdir(exist_ok=True)
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
    """Forget a session's models and delete its folder (tab closed or state expired)."""
    if not session or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session):
        return
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
