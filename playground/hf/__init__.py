"""Hugging Face in practice: pipelines, datasets, fine-tuning, a vision transformer.

``pipelines.py`` runs transformers' ``pipeline`` for several tasks and returns what each
shows; ``datasets_view.py`` loads and summarises the review data with ``datasets``;
``finetune.py`` fine-tunes the packaged MiniLM for sentiment (a plain loop: autograd and
``torch.optim.AdamW``, the frozen layers run once);
``vit_digits.py`` is a small ViT (Dosovitskiy et al. 2021) trained on scikit-learn's
digits; ``bertviz_offline.py`` renders bertviz's views without a CDN.
"""
