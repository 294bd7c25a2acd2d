""""Show the code" for the fine-tuning lab: plain datasets / transformers / torch lines that
reproduce exactly the run the student made (data, split, frozen layers once, the training
loop, the baselines) and print the numbers the screen shows. No import of this app."""

from __future__ import annotations

from playground.hf.finetune import FROZEN_BATCH, FinetuneRun, FinetuneSnapshot, eval_every, n_frozen_layers
from playground.service.model_service import get_service


def model_source(model_id: str) -> str:
    """Where a notebook loads the model from: the real local folder of a packaged or
    app-made model (offline), else the hub id."""
    info = get_service().resolve(model_id)
    return str(info.path) if info.path is not None else model_id


def data_code(load_code: str, model_id: str, max_length: int) -> str:
    """Loading, then the tokenize function and ``dataset.map(tokenize, batched=True)``."""
    return (
        f"{load_code}\n"
        "import numpy as np\n"
        "from transformers import AutoTokenizer\n\n"
        f"MODEL = {model_source(model_id)!r}  # {model_id}\n"
        "tokenizer = AutoTokenizer.from_pretrained(MODEL)\n\n"
        "def tokenize(batch):  # a batch of rows in, token ids out\n"
        f'    return tokenizer(batch["text"], truncation=True, max_length={max_length})\n\n'
        "tokenized = dataset.map(tokenize, batched=True)\n"
        "print(tokenized.column_names)  # text, label, input_ids, token_type_ids, attention_mask\n"
        'print("rows:", len(dataset), "per label:", np.bincount(dataset["label"]).tolist())\n'
    )


_HELPERS = f'''
def pad_ids(rows):  # token id lists -> (B, T) ids padded with 0, (B, T) mask
    ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, row in enumerate(rows):
        ids[k, :len(row)], mask[k, :len(row)] = torch.tensor(row), 1
    return ids, mask

def pad_states(states):  # per-example (T_i, H) -> (B, T, H) zero-padded, (B, T) mask
    hidden = torch.zeros(len(states), max(s.shape[0] for s in states), states[0].shape[1])
    mask = torch.zeros(hidden.shape[:2], dtype=torch.long)
    for k, s in enumerate(states):
        hidden[k, :s.shape[0]], mask[k, :s.shape[0]] = s, 1
    return hidden, mask

def additive_mask(mask):  # (B, T) -> (B, 1, 1, T): padding gets a huge negative score
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

def mean_pool(hidden, mask):  # the sentence vector this encoder was trained to produce
    mask = mask.unsqueeze(-1).float()
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
'''

_CACHED = f'''
def frozen_states(rows):  # embeddings + the frozen layers, once per example
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), {FROZEN_BATCH}):
            chunk = rows[start:start + {FROZEN_BATCH}]
            ids, mask = pad_ids(chunk)
            hidden = encoder.embeddings(input_ids=ids)
            for layer in encoder.encoder.layer[:N_FROZEN]:
                hidden = layer(hidden, attention_mask=additive_mask(mask))
            out += [hidden[k, :len(row)].clone() for k, row in enumerate(chunk)]
    return out

def sentence_vectors(states, index):  # the layers that train, then mean pooling
    hidden, mask = pad_states([states[k] for k in index])
    for layer in encoder.encoder.layer[N_FROZEN:]:
        hidden = layer(hidden, attention_mask=additive_mask(mask))
    return mean_pool(hidden, mask)

train_inputs = frozen_states(train_ids)
held_out_inputs = frozen_states(held_out_ids)
'''

_FULL = '''
def sentence_vectors(rows, index):  # every layer trains: run the whole encoder each step
    ids, mask = pad_ids([rows[k] for k in index])
    return mean_pool(encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

train_inputs, held_out_inputs = train_ids, held_out_ids
'''


def _trainable_code(frozen: int | None) -> str:
    if frozen is None:
        return ("params = [*encoder.embeddings.parameters(), *encoder.encoder.parameters(), "
                "*head.parameters()]  # everything\n")
    return "params = [*encoder.encoder.layer[N_FROZEN:].parameters(), *head.parameters()]\n"


def run_code(run: FinetuneRun, snap: FinetuneSnapshot | None, saved_name: str | None = None) -> str:
    """Everything from loading to the final accuracy, with this run's exact numbers."""
    cfg, names = run.cfg, list(run.data.label_names)
    frozen = n_frozen_layers(run.model, cfg.train_mode, cfg.last_layers) if run.model is not None else None
    max_steps = snap.step if snap is not None and snap.done else cfg.total_steps
    code = run.data.load_code + (
        "\nimport numpy as np\nimport torch\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from transformers import AutoModel, AutoTokenizer\n\n"
        f"MODEL = {model_source(cfg.model_id)!r}  # {cfg.model_id}\n"
        "tokenizer = AutoTokenizer.from_pretrained(MODEL)\n"
        "encoder = AutoModel.from_pretrained(MODEL).eval()  # eval: no dropout, the seed decides everything\n\n"
        f"dataset = dataset.shuffle(seed={cfg.seed})\n"
        f"held_out = dataset.select(range({cfg.n_eval}))\n"
        f"train = dataset.select(range({cfg.n_eval}, {cfg.n_eval + cfg.n_train}))\n"
        f"label_names = {names!r}\n"
        f'train_ids = tokenizer(list(train["text"]), truncation=True, max_length={cfg.max_length})["input_ids"]\n'
        f'held_out_ids = tokenizer(list(held_out["text"]), truncation=True, max_length={cfg.max_length})["input_ids"]\n'
        'train_labels, held_out_labels = torch.tensor(list(train["label"])), torch.tensor(list(held_out["label"]))\n\n'
        f"generator = torch.Generator().manual_seed({cfg.seed})  # the run's own randomness\n"
        f"head = torch.nn.Linear(encoder.config.hidden_size, {len(names)})\n"
        "with torch.no_grad():  # a new head, drawn from the run's generator\n"
        "    torch.nn.init.normal_(head.weight, std=0.02, generator=generator)\n"
        "    head.bias.zero_()\n"
        + _HELPERS
        + (f"\nN_FROZEN = {frozen}  # embeddings and layers below this stay as pretrained\n" + _CACHED
           if frozen is not None else _FULL) +
        "\ndef vectors_of(inputs):  # (n, hidden) mean-pooled vectors, no training\n"
        "    with torch.inference_mode():\n"
        "        return torch.cat([sentence_vectors(inputs, range(s, min(s + 64, len(inputs))))\n"
        "                          for s in range(0, len(inputs), 64)]).numpy()\n\n"
        "def accuracy():\n"
        "    with torch.inference_mode():\n"
        "        predicted = torch.cat([head(sentence_vectors(held_out_inputs, range(s, min(s + 64, len(held_out_inputs)))))\n"
        "                               .argmax(-1) for s in range(0, len(held_out_inputs), 64)])\n"
        "    return (predicted == held_out_labels).float().mean().item()\n\n"
        "# Baselines: the commonest label, and logistic regression on the frozen embeddings\n"
        "majority = int(np.bincount(train_labels.numpy()).argmax())\n"
        "probe = LogisticRegression(max_iter=2000).fit(vectors_of(train_inputs), train_labels.numpy())\n"
        'print(f"majority class: {(held_out_labels.numpy() == majority).mean():.4f}")\n'
        'print(f"frozen embeddings + logistic regression: {probe.score(vectors_of(held_out_inputs), held_out_labels.numpy()):.4f}")\n'
        'print(f"before training: {accuracy():.4f}")\n\n'
        + _trainable_code(frozen) +
        f"optimizer = torch.optim.AdamW(params, lr={cfg.learning_rate!r})\n"
        f"step, max_steps = 0, {max_steps}\n"
        f"for epoch in range({cfg.epochs}):\n"
        "    order = torch.randperm(len(train_inputs), generator=generator).tolist()\n"
        f"    for first in range(0, len(order), {cfg.batch_size}):\n"
        "        if step == max_steps:\n"
        "            break\n"
        f"        index = order[first:first + {cfg.batch_size}]\n"
        "        logits = head(sentence_vectors(train_inputs, index))\n"
        "        loss = torch.nn.functional.cross_entropy(logits, train_labels[index])\n"
        "        optimizer.zero_grad()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        step += 1\n"
        f"        if step % {eval_every(cfg)} == 0:\n"
        '            print(f"step {step}: loss {loss.item():.4f}, held-out accuracy {accuracy():.4f}")\n'
        'print(f"after {step} steps: {accuracy():.4f}")\n'
    )
    if saved_name:
        code += ("\n# The app saves the same model as one transformers folder "
                 f"({saved_name!r}, model_type bert-mean-pooling);\n"
                 "# here, keep the two parts:\n"
                 f"encoder.save_pretrained({saved_name!r})\n"
                 f"tokenizer.save_pretrained({saved_name!r})\n"
                 f"torch.save(head.state_dict(), {saved_name!r} + '/head.pt')\n")
    return code
