"""Subword tokenization as a student sees it: tokens, ids, special tokens, the attention
mask, character offsets and the round trip back to text.

WordPiece (BERT, Devlin et al. 2019) splits unknown words into pieces marked '##';
byte-level BPE (GPT-2, Radford et al. 2019) cuts the text's UTF-8 bytes, never needs an
unknown token, and prints each byte as a visible character: 'Ġ' is a space, 'Ċ' a newline,
and a non-ASCII letter is two or more symbols ('é' = bytes C3 A9 = 'Ã©').
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playground.service.validate import clean_text

MAX_CHARS = 20_000
MAX_WORD_CHARS = 60


@dataclass(frozen=True)
class TokenView:
    text: str  # the cleaned input
    tokens: tuple[str, ...]  # the tokenizer's own strings ("##ing", "Ġthe", "[CLS]")
    ids: tuple[int, ...]
    special: tuple[bool, ...]  # True for [CLS], [SEP], <s>, ...
    attention_mask: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]  # character span in the input; (0, 0) for specials
    decoded: str  # ids back to text, special tokens skipped
    n_tokens_full: int  # how many tokens the whole text would take
    max_tokens: int
    byte_level: bool  # GPT-2-style byte-level BPE: tokens are printable stand-ins for bytes

    @property
    def spans(self) -> tuple[str, ...]:
        """The piece of the input each token came from ("" for special tokens)."""
        return tuple("" if special else self.text[a:b]
                     for (a, b), special in zip(self.offsets, self.special))

    @property
    def chars_per_token(self) -> float:
        """Characters of the text the kept tokens cover, per non-special token (a truncated
        text is counted up to where the last kept token ends, not to its end)."""
        ends = [b for (_, b), special in zip(self.offsets, self.special) if not special]
        return max(ends, default=0) / max(1, len(ends))

    @property
    def truncated(self) -> bool:
        return self.n_tokens_full > len(self.ids)

    @property
    def round_trip_exact(self) -> bool:
        """Whether decode(encode(text)) gives the text back (lower-casing tokenizers don't)."""
        return self.decoded == self.text


def tokenize(tokenizer: Any, text: str, max_tokens: int = 128) -> TokenView:
    """Tokenize ``text`` with a Hugging Face (fast) tokenizer, truncating to ``max_tokens``."""
    text = clean_text(text, MAX_CHARS)
    limit = getattr(tokenizer, "model_max_length", max_tokens) or max_tokens
    max_tokens = int(max(2, min(max_tokens, limit)))
    full = tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
    enc = tokenizer(text, add_special_tokens=True, truncation=True, max_length=max_tokens,
                    return_offsets_mapping=True, return_special_tokens_mask=True)
    ids = enc["input_ids"]
    return TokenView(
        text=text,
        tokens=tuple(tokenizer.convert_ids_to_tokens(ids)),
        ids=tuple(ids),
        special=tuple(bool(s) for s in enc["special_tokens_mask"]),
        attention_mask=tuple(enc["attention_mask"]),
        offsets=tuple(tuple(o) for o in enc["offset_mapping"]),
        decoded=tokenizer.decode(ids, skip_special_tokens=True),
        n_tokens_full=len(full["input_ids"]),
        max_tokens=max_tokens,
        byte_level=is_byte_level(tokenizer),
    )


@dataclass(frozen=True)
class WordPieces:
    """The tokens one word of a text became."""

    word: str  # as written in the text (or as given, when it is not in the text)
    tokens: tuple[str, ...]
    in_text: bool  # False: not in the text, so tokenized on its own after a space


def word_pieces(tokenizer: Any, view: TokenView, word: str) -> WordPieces | None:
    """The tokens ``word`` became in ``view``: its first whole-word occurrence in the text
    (any case, since some tokenizers lower-case), read from the view's character offsets.
    A word that is not in the text is tokenized after a space, as in the middle of a
    sentence (byte-level BPE tokenizes a word differently at the start of a text).
    None when the word is in the text but past the tokens Max tokens kept."""
    word = clean_text(word, MAX_WORD_CHARS, "word").strip()
    if any(ch.isspace() for ch in word):
        raise ValueError("The question is about one word: remove the spaces.")
    found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", view.text, flags=re.IGNORECASE)
    if found is None:
        alone = tokenize(tokenizer, " " + word)
        return WordPieces(word, tuple(t for t, special in zip(alone.tokens, alone.special) if not special), False)
    start, end = found.span()
    # a token belongs to the word if their character spans overlap
    tokens = tuple(token for token, (a, b), special in zip(view.tokens, view.offsets, view.special)
                   if not special and a < end and b > start)
    return WordPieces(found.group(), tokens, True) if tokens else None


def text_token_count(tokenizer: Any, text: str) -> int:
    """How many tokens the whole text takes: no special tokens, no truncation."""
    return len(tokenizer(clean_text(text, MAX_CHARS), add_special_tokens=False, verbose=False)["input_ids"])


def is_byte_level(tokenizer: Any) -> bool:
    """Whether a (fast) tokenizer is GPT-2-style byte-level BPE."""
    pre_tokenizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    return type(pre_tokenizer).__name__ == "ByteLevel"


def display_token(token: str) -> str:
    """Make invisible marks readable: byte-level 'Ġ' is a space, 'Ċ' a newline."""
    return token.replace("Ġ", "␣").replace("Ċ", "↵").replace("▁", "␣")
