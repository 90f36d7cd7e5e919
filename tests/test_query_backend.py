"""EMBEDDINGS_LOCAL_QUERY_BACKEND: search queries on ONNX Runtime give torch's vectors.

The session's provider (default settings) embeds queries with ``embeddings.onnx_query``; its
document path is still torch, and for the bundled model a query and a document differ by no
prompt, so ``embed_documents([text])`` is torch's vector for the same text.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import EmbeddingConfigError
from embeddings.local import LocalProvider
from embeddings.settings import EmbeddingSettings

pytestmark = pytest.mark.slow

QUERIES = [
    "oil prices",
    "x",
    "how do central banks set interest rates when inflation rises?",
    "Ελληνικά κείμενα για την οικονομία",  # noqa: RUF001
    "数据库 搜索",
    "the of and",
    "word " * 600,  # past the model's 256 tokens: both truncate the same way
]


def _cosine(a: list[float], b: list[float]) -> float:
    left, right = np.asarray(a), np.asarray(b)
    return float(left @ right / (np.linalg.norm(left) * np.linalg.norm(right)))


def test_queries_run_on_onnx_with_torchs_vectors(local_provider: LocalProvider) -> None:
    assert local_provider.query_backend == "onnx"
    assert local_provider.query_prompt == local_provider.document_prompt == ""
    torch_vectors = local_provider.embed_documents(QUERIES)
    for query, reference in zip(QUERIES, torch_vectors, strict=True):
        vector = local_provider.embed_query(query)
        assert len(vector) == local_provider.dimension
        assert _cosine(vector, reference) > 0.9999, query[:40]


def test_queries_from_many_threads_while_documents_are_embedded(
    local_provider: LocalProvider,
) -> None:
    """Queries skip the provider's lock: from four threads at once, while a fifth embeds
    documents, each query still gets the vector it gets alone, and nothing raises."""
    expected = {q: local_provider.embed_query(q) for q in QUERIES[:4]}
    documents = [f"passage {n} about markets, rates and the weather" for n in range(64)]
    errors: list[BaseException] = []
    mismatches: list[str] = []

    def searcher() -> None:
        try:
            for _ in range(15):
                for query, vector in expected.items():
                    if _cosine(local_provider.embed_query(query), vector) < 0.99999:
                        mismatches.append(query)
        except BaseException as error:  # collected: a thread's exception would vanish
            errors.append(error)

    def ingester() -> None:
        try:
            local_provider.embed_documents(documents)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    threads.append(threading.Thread(target=ingester))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    assert not mismatches


def test_an_unknown_query_backend_names_the_setting() -> None:
    with pytest.raises(EmbeddingConfigError) as caught:
        LocalProvider(EmbeddingSettings(provider="local", local_query_backend="tensorrt"))
    assert caught.value.setting == "EMBEDDINGS_LOCAL_QUERY_BACKEND"
    assert "tensorrt" in str(caught.value)


def test_the_export_is_made_once_and_a_broken_one_falls_back_to_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = EmbeddingSettings(provider="local", local_cache_dir=str(tmp_path))
    first = LocalProvider(settings)
    assert first.query_backend == "onnx"
    [export] = tmp_path.glob("*onnx-fp32*.onnx")
    assert not list(tmp_path.glob(".export-*"))  # the temporary folder is gone
    first.close()

    export.write_bytes(b"not an onnx graph")  # e.g. a disk that lost the file's contents
    with caplog.at_level(logging.WARNING, logger="embeddings.local"):
        second = LocalProvider(settings)
    assert second.query_backend == "torch"
    assert "search queries stay on torch" in caplog.text
    assert export.read_bytes() == b"not an onnx graph"  # loaded from the cache, not re-made
    assert _cosine(second.embed_query("oil prices"), second.embed_documents(["oil prices"])[0]) > (
        0.99999
    )
    second.close()
