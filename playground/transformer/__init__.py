"""The transformer: attention is all you need (Vaswani et al. 2017).

Read ``attention.py`` first: scaled dot-product attention by hand, multi-head attention,
and the attention of a real pretrained encoder (all-MiniLM-L6-v2). ``positional.py``
covers how a transformer knows word order: sinusoidal encodings, learned absolute
positions (BERT), RoPE (Su et al. 2021) and ALiBi (Press et al. 2022).
"""
