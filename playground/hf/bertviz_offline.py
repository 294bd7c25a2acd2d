"""bertviz's head, model and neuron views (Vig 2019, "A Multiscale Visualization of
Attention in the Transformer Model", https://arxiv.org/abs/1906.05714), made to work with
no internet.

bertviz returns HTML that loads require.js, d3 and jQuery from a CDN. Here d3 v5 comes
from the installed PyPI package ``mpld3`` and jQuery from ``xstatic-jquery``; both are
inlined into the page, and require.js is replaced by a tiny shim that hands them to
bertviz's callback. The app puts the page in an ``<iframe srcdoc>`` (components/bertviz_view.py).

bertviz's HTML grows with tokens squared (all layers × heads × T × T numbers), so the
tokens and layers are capped to keep a page to a few MB; the caller is told what was cut.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from playground.transformer.attention import ModelAttention, model_attention
from playground.service.model_service import cache_dir, get_service
from playground.service.validate import clean_text

VIEWS = ("head", "model", "neuron")
MAX_VIEW_TOKENS = 64  # more lines than this are unreadable in the head view anyway
MAX_NEURON_TOKENS = 24  # the neuron view also ships queries and keys: far heavier
BUDGET_BYTES = 3 * 2**20  # per page, so 30 students' browsers stay responsive
BYTES_PER_NUMBER = 8  # "0.1234, " after rounding
# require.js replaced: bertviz calls require.config(...) and requirejs(['jquery', 'd3'], cb).
REQUIRE_SHIM = ("window.require = {config: function () {}};\n"
                "window.requirejs = function (deps, cb) {\n"
                "  var libs = {jquery: window.jQuery, d3: window.d3};\n"
                "  cb.apply(null, deps.map(function (d) { return libs[d]; }));\n"
                "};")
_CDN_SCRIPT = re.compile(r'<script src="https://cdnjs[^"]*"></script>')
_CDN_PATHS = re.compile(r"require\.config\(\{\s*paths:\s*\{[^}]*\}\s*\}\);")  # CDN urls, unused now
# bertviz substitutes its data for PYTHON_PARAMS, also inside the comment that names the
# marker: the page carried the whole data twice. Drop the comment.
_DATA_COMMENT = re.compile(r"// HACK: .{0,50000000}? is a template marker that is replaced by actual params\.",
                           re.S)
# float32 → JSON prints 17 digits; 4 are plenty to draw a line's opacity.
DECIMALS = 4
# A JSON number inside the data (after "[" or ", "): keep 4 decimals and any exponent.
# BERT tokens never contain spaces, so a token string cannot match.
_LONG_NUMBER = re.compile(r"(?<=[\[ ])(-?\d+\.\d{%d})\d+(e-?\d+)?(?=[,\]])" % DECIMALS)


@dataclass(frozen=True)
class BertvizPage:
    view: str  # "head", "model" or "neuron"
    html: str  # a complete offline HTML document
    height_px: int  # how tall the iframe should be to show it whole
    n_tokens: int
    layers: tuple[int, ...]  # layers included
    notes: tuple[str, ...]  # what was cut, for the student


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"The bertviz views need the PyPI package '{package}'; it is not installed.")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)


@functools.lru_cache(maxsize=1)
def _libraries() -> str:
    """d3 v5 and jQuery as inline scripts, read once from the installed packages."""
    d3 = _package_file("mpld3", "js", "d3.v5.min.js").read_text(encoding="utf-8")
    jquery = _package_file("xstatic.pkg.jquery", "data", "jquery.min.js").read_text(encoding="utf-8")
    # "</script" inside a library would close the inline tag early.
    safe = [lib.replace("</script", "<\\/script") for lib in (d3, jquery)]
    return "".join(f"<script>\n{lib}\n</script>\n" for lib in safe)


def offline_document(bertviz_html: str) -> str:
    """bertviz's returned HTML → a whole page whose scripts all come from installed packages."""
    body = _CDN_PATHS.sub("", _CDN_SCRIPT.sub("", bertviz_html), count=1)
    body = _DATA_COMMENT.sub("", body, count=1)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            "<style>body{margin:6px;background:white;color:black;}</style>\n"
            f"{_libraries()}<script>\n{REQUIRE_SHIM}\n</script>\n</head>\n"
            f"<body>\n{body}\n</body></html>")


def _layers_within_budget(n_layers: int, n_heads: int, n_tokens: int, copies: int) -> int:
    per_layer = n_heads * n_tokens * n_tokens * BYTES_PER_NUMBER * copies
    return int(max(1, min(n_layers, BUDGET_BYTES // max(1, per_layer))))


def _capped(model_id: str, text: str, text_b: str, max_tokens: int
            ) -> tuple[ModelAttention, list[int], list[str]]:
    """A forward pass on at most MAX_VIEW_TOKENS tokens and the layers that fit the budget."""
    att = model_attention(model_id, text, text_b, min(int(max_tokens), MAX_VIEW_TOKENS))
    # The forward pass's own truncation note names the wrong limit here: say bertviz's.
    notes = [n for n in att.notes if not n.startswith("The text needs")]
    if att.n_tokens_full > att.max_tokens:
        notes.append(f"bertviz shows the first {att.max_tokens} of {att.n_tokens_full} tokens "
                     "(its page grows with tokens squared).")
    # A sentence pair makes a view carry A→A, B→B, A→B, B→A as well: twice the data.
    copies = 2 if att.sentence_b_start is not None else 1
    keep = _layers_within_budget(att.n_layers, att.n_heads, len(att.tokens), copies)
    if keep < att.n_layers:
        notes.append(f"Only layers 0–{keep - 1} of {att.n_layers} are drawn to keep the page "
                     f"under {BUDGET_BYTES // 2**20} MB; shorten the text to see them all.")
    return att, list(range(keep)), notes


def _as_layers(att: ModelAttention) -> list[torch.Tensor]:
    """(1, H, T, T) per layer, rounded in float64 so that JSON prints short numbers."""
    return [torch.from_numpy(np.round(layer.astype(np.float64), DECIMALS))[None]
            for layer in att.attentions]


def _shorten_numbers(page: str) -> str:
    """The neuron view's data (attention, queries, keys) with 4 decimals instead of 17."""
    return _LONG_NUMBER.sub(r"\1\2", page)  # an unmatched exponent group is empty


def head_view_page(model_id: str, text: str, text_b: str = "", max_tokens: int = MAX_VIEW_TOKENS,
                   layer: int = 0) -> BertvizPage:
    """bertviz head view: lines from each token to the tokens it attends to, one colour a head."""
    from bertviz import head_view

    att, layers, notes = _capped(model_id, text, text_b, max_tokens)
    shown = min(max(int(layer), 0), layers[-1])
    out = head_view(_as_layers(att), list(att.tokens), sentence_b_start=att.sentence_b_start,
                    include_layers=layers, layer=shown, html_action="return")
    height = int(len(att.tokens) * 22.5 + 120)
    return BertvizPage("head", offline_document(out.data), height, len(att.tokens), tuple(layers),
                       tuple(notes))


def model_view_page(model_id: str, text: str, text_b: str = "", max_tokens: int = MAX_VIEW_TOKENS
                    ) -> BertvizPage:
    """bertviz model view: a thumbnail of every layer × head; click one to enlarge it."""
    from bertviz import model_view

    att, layers, notes = _capped(model_id, text, text_b, max_tokens)
    out = model_view(_as_layers(att), list(att.tokens), sentence_b_start=att.sentence_b_start,
                     include_layers=layers, display_mode="light", html_action="return")
    n = len(att.tokens)
    # The same arithmetic as bertviz's model_view.js, so the iframe fits the drawing.
    thumbnail = n * 7 * 12 / att.n_heads + 10
    height = int(max(len(layers) * thumbnail + 38, n * 18 + 55) + 70)
    return BertvizPage("model", offline_document(out.data), height, n, tuple(layers), tuple(notes))


# --- neuron view: bertviz's own BERT classes, which read pytorch_model.bin ---------------

def neuron_supported(model_id: str) -> bool:
    """bertviz's neuron view has its own BERT code: only local BERT models qualify."""
    info = get_service().resolve(model_id)
    config = (info.path / "config.json") if info.path else None
    if config is None or not config.is_file() or not (info.path / "vocab.txt").is_file():
        return False
    return json.loads(config.read_text()).get("model_type") == "bert"


def neuron_weights_dir(model_id: str) -> Path:
    """A folder bertviz's BertModel can read, converted from safetensors at first use.

    It lives in the app's cache folder (never the repo). A marker file written last
    makes a half-finished conversion (a crash mid-write) redo itself.
    """
    from safetensors.torch import load_file

    info = get_service().resolve(model_id)
    folder = cache_dir() / "bertviz-neuron" / re.sub(r"[^A-Za-z0-9_.-]", "_", info.id)
    done = folder / "converted.ok"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "vocab.txt"):
            shutil.copyfile(info.path / name, folder / name)
        torch.save(load_file(str(info.path / "model.safetensors")), folder / "pytorch_model.bin")
        done.write_text("ok\n")
    return folder


def _neuron_model(model_id: str) -> tuple[object, object]:
    from bertviz.transformers_neuron_view import BertModel, BertTokenizer

    def load() -> tuple[object, object]:
        folder = str(neuron_weights_dir(model_id))
        model = BertModel.from_pretrained(folder, output_attentions=True).eval()
        return model, BertTokenizer.from_pretrained(folder, do_lower_case=True)

    return get_service().memo(("bertviz-neuron-model", model_id), load)


def _cut_words(tokenizer, text: str, max_tokens: int) -> tuple[str, bool]:
    """The longest start of ``text`` (whole words) that tokenizes to at most max_tokens."""
    words = text.split()
    kept: list[str] = []
    count = 0
    for word in words:
        count += len(tokenizer.tokenize(word))
        if count > max_tokens:
            break
        kept.append(word)
    if not kept and words:  # a single giant word: keep its first characters
        kept = [words[0][:max_tokens]]
    return " ".join(kept), len(kept) < len(words)


def neuron_view_page(model_id: str, text: str, text_b: str = "", layer: int = 0, head: int = 0
                     ) -> BertvizPage:
    """bertviz neuron view: the query and key vectors behind one head's attention."""
    from bertviz.neuron_view import show

    if not neuron_supported(model_id):
        raise ValueError(f"bertviz's neuron view works with local BERT models only "
                         f"(like {get_service().available_ids('attention')[0]}); "
                         f"{model_id} is not one. The head and model views work for it.")
    model, tokenizer = _neuron_model(model_id)
    text = clean_text(text, 200_000)
    text_b = clean_text(text_b, 200_000, "sentence B") if (text_b or "").strip() else ""
    # [CLS] a [SEP] b [SEP]: leave room for three special tokens, split between a and b.
    budget = MAX_NEURON_TOKENS - (3 if text_b else 2)
    text, cut_a = _cut_words(tokenizer, text, budget // 2 if text_b else budget)
    text_b, cut_b = _cut_words(tokenizer, text_b, budget - budget // 2) if text_b else ("", False)
    notes = ([f"The neuron view shows about the first {MAX_NEURON_TOKENS} tokens (it carries every "
              "query and key vector)."] if (cut_a or cut_b) else [])
    n_layers = model.config.num_hidden_layers
    n_heads = model.config.num_attention_heads
    layer = min(max(int(layer), 0), n_layers - 1)
    head = min(max(int(head), 0), n_heads - 1)
    with torch.inference_mode():
        out = show(model, "bert", tokenizer, text, text_b or None, display_mode="light",
                   layer=layer, head=head, html_action="return")
    n = len(tokenizer.tokenize(text)) + len(tokenizer.tokenize(text_b)) + (3 if text_b else 2)
    height = int(n * 26 + 200)
    return BertvizPage("neuron", offline_document(_shorten_numbers(out.data)), height, n,
                       tuple(range(n_layers)), tuple(notes))


def build_page(view: str, model_id: str, text: str, text_b: str = "", layer: int = 0,
               head: int = 0, max_tokens: int = MAX_VIEW_TOKENS) -> BertvizPage:
    """One of the three views by name."""
    if view == "head":
        return head_view_page(model_id, text, text_b, max_tokens, layer)
    if view == "model":
        return model_view_page(model_id, text, text_b, max_tokens)
    if view == "neuron":
        return neuron_view_page(model_id, text, text_b, layer, head)
    raise ValueError(f"Unknown bertviz view '{view}'; choose one of {', '.join(VIEWS)}.")
