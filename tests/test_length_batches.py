"""Batches cut by length in tokens, and the bundled model's vectors unchanged by them."""

from __future__ import annotations

from typing import Any

import pytest
from transformers import AutoTokenizer

from embeddings.length_batches import batches_by_tokens
from embeddings.local import LocalProvider, bundled_model_path

# Few characters, many tokens (every digit group and mark is one) against the reverse.
DENSE = "3.5 mln dlrs vs 2.1 mln, Q1 +4.2 pct; 1,234/5,678 shr"
PLAIN = "The committee discussed the proposal thoroughly throughout the afternoon"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """The bundled model's own tokenizer."""
    return AutoTokenizer.from_pretrained(str(bundled_model_path()))


def test_longest_in_tokens_first_not_in_characters(tokenizer: Any) -> None:
    counts = {t: len(tokenizer(t)["input_ids"]) for t in (DENSE, PLAIN)}
    assert len(DENSE) < len(PLAIN) and counts[DENSE] > counts[PLAIN]  # the case that matters

    texts = [PLAIN, "short", DENSE, "a b", PLAIN + " again", DENSE + " 7.7"]
    batches = batches_by_tokens(tokenizer, texts, batch_size=2, max_length=256)

    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    assert [len(batch) for batch in batches] == [2, 2, 2]
    assert batches[0] == [5, 2]  # the two dense ones, though not the longest strings
    lengths = [len(tokenizer(texts[i])["input_ids"]) for batch in batches for i in batch]
    assert lengths == sorted(lengths, reverse=True)


def test_one_batch_is_left_in_order_and_counts_are_cut_where_the_model_cuts(
    tokenizer: Any,
) -> None:
    assert batches_by_tokens(tokenizer, ["b", "a a a"], batch_size=4, max_length=256) == [[0, 1]]
    assert batches_by_tokens(tokenizer, [], batch_size=4, max_length=256) == []
    # Past max_length both count the same, so they keep their order.
    long, longer = "word " * 300, "word " * 400
    assert batches_by_tokens(tokenizer, [long, longer], batch_size=1, max_length=8) == [[0], [1]]
    with pytest.raises(ValueError, match="batch_size"):
        batches_by_tokens(tokenizer, ["a"], batch_size=0, max_length=8)


def test_vectors_come_back_in_input_order_as_embedded_alone(
    local_provider: LocalProvider,
) -> None:
    texts = [DENSE, PLAIN, "x", DENSE + " and more figures 9.9", PLAIN * 3] * 8  # > one batch
    assert len(texts) > local_provider.batch_size
    together = local_provider.embed_documents(texts)
    for text, vector in zip(texts[:5], together[:5], strict=True):
        alone = local_provider.embed_documents([text])[0]
        assert sum(a * b for a, b in zip(alone, vector, strict=True)) > 0.9999
