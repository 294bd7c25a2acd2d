"""The lab's "Show the code": plain torch a student can paste into a notebook.

Each panel is this chapter's own source (``inspect.getsource`` of the model, the data and
the training step: one home for each idea), followed by the few lines that load a shipped
model by its absolute path, or train a fresh one, with the student's settings. It imports
nothing from this repo, so it runs offline from any folder.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from playground.seq2seq import data, model
from playground.service.model_service import ASSET_MODELS

HEADER = ("from __future__ import annotations\n\nimport datetime as dt\nimport json\nimport math\n"
          "import random\nfrom dataclasses import dataclass\nfrom types import SimpleNamespace\n"
          "from typing import Callable\n\nimport torch\nimport torch.nn.functional as F\n"
          "from safetensors.torch import load_file\nfrom torch import nn\n\n")
SPECIALS = 'PAD, BOS, EOS = 0, 1, 2\nSPECIALS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2 in every vocabulary\n'
MODEL_PARTS = (model.Seq2SeqConfig, model.Memory, model.DecoderStep, model.AdditiveAttention, model.Seq2Seq)
SAMPLERS = {"reverse": ("LETTERS", data._sample_reverse), "sort": ("DIGITS", data._sample_sort)}


def _source(*parts: object) -> str:
    return "\n\n".join(inspect.getsource(part).rstrip() for part in parts) + "\n\n\n"


def model_source() -> str:
    """The encoder–decoder with Bahdanau attention, exactly as the lab runs it."""
    return SPECIALS + "\n\n" + _source(*MODEL_PARTS)


def folder(task: str, variant: str) -> Path:
    return ASSET_MODELS / f"seq2seq-{task}-{variant}"


def decode_code(task: str, variant: str, text: str, width: int, max_out: int) -> str:
    """Load a shipped model and decode ``text`` with a beam of ``width`` (1 = greedy),
    printing the output, its log-probability and where each step looked most."""
    return HEADER + model_source() + f"""folder = {str(folder(task, variant))!r}
config = json.load(open(f"{{folder}}/config.json"))
model = Seq2Seq(Seq2SeqConfig(**config["model"])).eval()
model.load_state_dict(load_file(f"{{folder}}/model.safetensors"))
src_chars, tgt_chars = config["src_chars"], config["tgt_chars"]  # ids 3, 4, ... (0-2: specials)

text, width, max_out = {text!r}, {width}, {max_out}  # width 1 = greedy decoding
src = torch.tensor([[3 + src_chars.index(ch) for ch in text]])  # (1, T)
with torch.no_grad():
    memory = model.encode(src, torch.tensor([src.shape[1]]))
    # A beam: (output ids, summed log-probability, decoder state s_t, attention rows).
    beams = [((), 0.0, model.start(memory), [])]
    for _ in range(max_out + 1):
        candidates = [b for b in beams if b[0] and b[0][-1] == EOS]  # finished ones stay
        for ids, logp, state, rows in beams:
            if ids and ids[-1] == EOS:
                continue
            out = model.step(torch.tensor([ids[-1] if ids else BOS]), state, memory)
            scores = F.log_softmax(out.logits[0], dim=-1)
            scores[PAD] = scores[BOS] = float("-inf")  # never emitted
            best = torch.topk(scores, width)
            for lp, idx in zip(best.values, best.indices):
                candidates.append((ids + (int(idx),), logp + float(lp), out.state, rows + [out.weights]))
        beams = sorted(candidates, key=lambda b: -b[1])[:width]
        if all(b[0][-1] == EOS for b in beams):
            break
ids, logp, _, rows = beams[0]
print("".join(tgt_chars[i - 3] for i in ids if i >= 3))  # the output
print(round(logp, 3))  # its log-probability (the beams table's "log p")
if rows[0] is not None:  # the alignment: (output steps, input characters)
    alignment = torch.cat(rows)
    print(alignment.argmax(dim=-1).tolist())  # the input position each step looked at most
"""


def _task_source(task: data.Task) -> str:
    """The task's vocabulary and its generator of (input, output) pairs."""
    if task.name == "dates":
        text = inspect.getsource(data)  # the month names, the formats and the date range
        sampler = text[text.index("MONTHS = ["):text.index("def _sample_date")] + _source(data._sample_date)
        name = "_sample_date"
    else:
        constant, function = SAMPLERS[task.name]
        sampler = f"{constant} = {getattr(data, constant)!r}\n\n\n" + _source(function)
        name = function.__name__
    return (sampler + _source(data.Vocab, data.make_pairs, model.Batch, model._pad, model.make_batch,
                              model.batch_for, model.init_weights, model.loss_and_accuracy,
                              model.train_step)
            + f"task = SimpleNamespace(name={task.name!r}, src=Vocab({task.src.chars!r}), "
              f"tgt=Vocab({task.tgt.chars!r}),\n"
              f"                       min_len={task.min_len}, max_len={task.max_len}, sample={name})\n")


def train_code(task: data.Task, attention: bool, steps: int, batch_size: int, seed: int,
               snapshot_every: int) -> str:
    """Train a fresh model as the lab does, printing the loss the lab shows."""
    return HEADER + SPECIALS + "\n\n" + _source(*MODEL_PARTS) + _task_source(task) + f"""
steps, seed = {steps}, {seed}
model = Seq2Seq(Seq2SeqConfig(task.src.size, task.tgt.size, attention={attention}))
init_weights(model, seed)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / steps)  # decay to 10 %
model.eval()
with torch.no_grad():  # step 0: the untrained model
    print(0, round(loss_and_accuracy(model, batch_for(task, {batch_size}, seed, 1))[0].item(), 3))
for step in range(1, steps + 1):  # a fresh batch every step, fixed by (seed, step)
    loss, _ = train_step(model, opt, batch_for(task, {batch_size}, seed, step), clip=1.0)
    sched.step()
    if step % {snapshot_every} == 0 or step == steps:
        print(step, round(loss, 3))  # cross-entropy per output character
"""
