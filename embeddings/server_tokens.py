"""How ``semsearch embeddings serve`` counts tokens as TEI does: with the model's own
``tokenizer.json``, special tokens included, for the length check and ``usage``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

#: Texts → tokens per text as the model reads them, special tokens included (as TEI counts).
TokenCounter = Callable[[Sequence[str]], list[int]]


def token_counter(tokenizer_json: Path) -> TokenCounter:
    """Counts with a ``tokenizer.json`` (special tokens included, no truncation), as TEI does."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    return count


def find_tokenizer(model_source: str) -> Path | None:
    """``tokenizer.json`` of a local model folder, or of a Hub model already in the cache."""
    folder = Path(model_source)
    if (folder / "tokenizer.json").is_file():
        return folder / "tokenizer.json"
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_source, "tokenizer.json")
    except Exception:  # not a repo id, or no cache: then lengths are not checked
        return None
    return Path(cached) if isinstance(cached, str) else None
