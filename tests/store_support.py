"""The store contract's fixtures and corpus, shared by the contract and filter tests.

``store`` is an ``EdgeStore`` in a temporary folder or a ``ClientStore`` in qdrant-client's
``:memory:`` mode (the stand-in for a server); ``filled`` holds the small corpus below. Dense
vectors are hand-made unit vectors (dimension 8), so the expected neighbours are obvious;
sparse vectors are real BM25 from ``Bm25Encoder``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from search.client_store import ClientStore
from search.edge_store import EdgeStore
from search.points import chunk_point_id, document_point_id
from search.sparse import Bm25Encoder
from search.store import (
    CollectionInfo,
    ScoredHit,
    SearchMode,
    StoredPoint,
    VectorStore,
    Where,
)
from tests.fake_qdrant import FakeQdrant

DIM = 8
INFO = CollectionInfo(model="test/model-a", dimension=DIM)
BM25 = Bm25Encoder()


def unit(*weights: float) -> list[float]:
    """An 8-d unit vector from its first few components."""
    vector = [*weights, *([0.0] * (DIM - len(weights)))]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


# doc_id -> [(text, dense vector)]. Each document points in its own direction; the small last
# two components make every chunk distinct, and the texts differ in length, so that no query
# below meets a tie (engines may break ties differently).
CORPUS: dict[str, list[tuple[str, list[float]]]] = {
    "doc-cats": [
        ("The cat sat on the warm mat by the fire", unit(1.0, 0, 0, 0, 0, 0, 0.05, 0.01)),
        ("Cats purr loudly when happy", unit(1.0, 0.4, 0, 0, 0, 0, 0.02, 0.06)),
    ],
    "doc-money": [
        (
            "Stock markets fell sharply today after the quarterly report",
            unit(0, 0, 1.0, 0, 0, 0, 0.07, 0.03),
        ),
        ("Investors worry about rising interest rates", unit(0, 0, 1.0, 0.5, 0, 0, 0.04, 0.08)),
    ],
    "doc-sky": [
        (
            "A silver zeppelin floated slowly over the old harbour",
            unit(0, 0, 0, 0, 1.0, 0, 0.09, 0.02),
        )
    ],
    "doc-food": [
        (
            "A simple recipe for tomato soup with fresh basil and garlic",
            unit(0, 0, 0, 0, 0, 1.0, 0.03, 0.1),
        )
    ],
}
CAT_MAT = chunk_point_id("doc-cats", 0)
CAT_PURR = chunk_point_id("doc-cats", 1)
STOCKS = chunk_point_id("doc-money", 0)
ZEPPELIN = chunk_point_id("doc-sky", 0)
CHUNK_COUNT = sum(len(chunks) for chunks in CORPUS.values())


def corpus_points() -> list[StoredPoint]:
    """Chunk points with dense + BM25 vectors, and one vectorless document-metadata point."""
    points = [
        StoredPoint(
            id=chunk_point_id(doc_id, index),
            payload={"kind": "chunk", "doc_id": doc_id, "chunk_index": index, "text": text},
            dense=dense,
            sparse=BM25.embed_document(text),
        )
        for doc_id, chunks in CORPUS.items()
        for index, (text, dense) in enumerate(chunks)
    ]
    points.append(
        StoredPoint(
            id=document_point_id("doc-sky"),
            payload={"kind": "document", "doc_id": "doc-sky", "filename": "sky.txt", "pages": 1},
        )
    )
    return points


def make_store(engine: str, tmp_path: Path) -> VectorStore:
    if engine == "edge":
        return EdgeStore(tmp_path / "qdrant" / "documents")
    return ClientStore(":memory:", None, "documents")


@pytest.fixture(params=["edge", "server", "rest"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """Edge; qdrant-client's local mode; and qdrant-client over HTTP to tests.fake_qdrant, the
    REST stand-in the multi-process tests use, so that it is held to the same contract."""
    if request.param == "rest":
        with FakeQdrant() as fake:
            opened: VectorStore = ClientStore(fake.url, None, "documents")
            yield opened
            opened.close()
        return
    opened = make_store(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def filled(store: VectorStore) -> VectorStore:
    store.ensure_collection(INFO)
    store.upsert(corpus_points())
    return store


def ids(hits: Sequence[ScoredHit]) -> list[str]:
    return [hit.id for hit in hits]


def search(
    store: VectorStore,
    mode: SearchMode,
    *,
    dense: list[float] | None = None,
    text: str = "",
    limit: int = 10,
    offset: int = 0,
    where: Where | None = None,
) -> list[str]:
    sparse = BM25.embed_query(text) if mode != "dense" else None
    hits = store.query(
        mode=mode, dense=dense, sparse=sparse, limit=limit, offset=offset, where=where
    )
    return ids(hits)
