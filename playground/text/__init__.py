"""Text as numbers: tokenization and generation.

``tokenization.py`` shows how a tokenizer (WordPiece, byte-level BPE) splits text into
tokens and where each token came from in the text. ``generation.py`` is a readable
decoder: one forward pass per new token, and the sampling rules (temperature, top-k,
top-p / nucleus: Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration").
"""
