"""The core of Neural Playground: pure Python and torch, no Gradio.

One package a chapter of the course, in the order a student meets them:

- ``service``: the model service, the only door to weights (and input validation).
- ``text``: how text becomes tokens, and how a language model writes text back.
- ``recurrent``: RNN, LSTM and GRU cells step by step; the memory race.
- ``seq2seq``: encoder-decoder models, with and without Bahdanau attention.
- ``transformer``: scaled dot-product attention, multi-head attention, positional encodings.
- ``hf``: Hugging Face pipelines, datasets, fine-tuning, a small vision transformer.
- ``gan``: generative adversarial networks trained live.
- ``train``: the scripts that make the small weights in ``assets/models``.
"""
