"""One contract, two engines: the same tests run on Qdrant Edge and on qdrant-client.

In the style of qdrant-client's congruence tests: every test takes the ``store`` fixture, which
is an ``EdgeStore`` in a temporary folder or a ``ClientStore`` in qdrant-client's ``:memory:``
mode (the stand-in for a server). Dense vectors are small hand-made unit vectors (dimension 8),
so the expected neighbours are obvious; sparse vectors are real BM25 from ``Bm25Encoder``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import ModelMismatchError, SearchError, StoreUnavailableError
from search.fusion import DENSE_SHARE
from search.points import COLLECTION_POINT_ID, chunk_point_id, document_point_id
from search.store import CollectionInfo, SearchMode, VectorStore
from tests.store_support import (
    BM25,
    CAT_MAT,
    CAT_PURR,
    CHUNK_COUNT,
    DIM,
    INFO,
    STOCKS,
    ZEPPELIN,
    corpus_points,
    ids,
    make_store,
    search,
    unit,
)

# -- the collection --------------------------------------------------------------------------


def test_new_store_is_empty_and_has_no_collection_info(store: VectorStore) -> None:
    assert store.collection_info() is None
    assert store.count() == 0
    assert list(store.scroll()) == []
    assert store.retrieve([CAT_MAT]) == []
    assert search(store, "dense", dense=unit(1.0)) == []
    store.delete({"doc_id": "doc-cats"})  # a no-op, not an error


def test_writing_before_ensure_collection_is_a_clear_error(store: VectorStore) -> None:
    with pytest.raises(SearchError, match="ensure_collection"):
        store.upsert(corpus_points())


def test_ensure_collection_records_model_and_dimension(store: VectorStore) -> None:
    store.ensure_collection(INFO)
    assert store.collection_info() == INFO
    store.ensure_collection(INFO)  # the same model again is fine
    assert store.collection_info() == INFO
    # The collection-info point is stored, but it is not a document or a chunk.
    assert store.count({"kind": "collection"}) == 1
    assert store.retrieve([COLLECTION_POINT_ID])[0].payload["model"] == INFO.model


def test_another_model_raises_naming_both(store: VectorStore) -> None:
    store.ensure_collection(INFO)
    with pytest.raises(ModelMismatchError) as caught:
        store.ensure_collection(CollectionInfo(model="test/model-b", dimension=16))
    message = caught.value.message
    assert "test/model-a" in message and "test/model-b" in message
    assert "8" in message and "16" in message
    assert "SEMSEARCH_COLLECTION" in message and "re-ingest" in message
    # Same model name, other dimension: still refused.
    with pytest.raises(ModelMismatchError):
        store.ensure_collection(CollectionInfo(model=INFO.model, dimension=16))
    assert store.collection_info() == INFO


# -- writes ----------------------------------------------------------------------------------


def test_upsert_is_idempotent(filled: VectorStore) -> None:
    before = filled.count()
    assert before == CHUNK_COUNT + 2  # chunks, the document point, the collection point
    filled.upsert(corpus_points())
    assert filled.count() == before
    assert filled.count({"kind": "chunk"}) == CHUNK_COUNT


def test_upsert_replaces_payload(filled: VectorStore) -> None:
    point = corpus_points()[0]
    point.payload["text"] = "rewritten"
    filled.upsert([point])
    assert filled.retrieve([point.id])[0].payload["text"] == "rewritten"


def test_delete_by_document_keeps_the_others(filled: VectorStore) -> None:
    filled.delete({"doc_id": "doc-cats"})
    assert filled.count({"doc_id": "doc-cats"}) == 0
    assert filled.count({"doc_id": "doc-money"}) == 2
    assert filled.count({"kind": "chunk"}) == CHUNK_COUNT - 2
    assert CAT_MAT not in search(filled, "dense", dense=unit(1.0))
    assert filled.collection_info() == INFO


# -- queries ---------------------------------------------------------------------------------


def test_dense_query_ranks_the_nearest_first(filled: VectorStore) -> None:
    hits = filled.query(mode="dense", dense=unit(0, 0, 1.0, 0.1), sparse=None, limit=3)
    assert ids(hits)[:2] == [STOCKS, chunk_point_id("doc-money", 1)]
    assert hits[0].score == pytest.approx(0.995, abs=0.01)  # cosine
    assert hits[0].payload["doc_id"] == "doc-money"
    assert all(isinstance(hit.id, str) for hit in hits)


def test_keyword_query_finds_the_rare_word(filled: VectorStore) -> None:
    assert search(filled, "keyword", text="zeppelin") == [ZEPPELIN]
    assert search(filled, "keyword", text="the of and") == []  # only stopwords


def test_hybrid_query_fuses_dense_and_keyword(filled: VectorStore) -> None:
    # Dense alone prefers the cat chunks; the keyword pulls the zeppelin ahead of the others,
    # which all have a cosine of 0 to this query (so dense alone orders them by chance).
    dense_only = search(filled, "dense", dense=unit(1.0, 0.4))
    assert dense_only[0] == CAT_PURR
    hybrid = search(filled, "hybrid", dense=unit(1.0, 0.4), text="purr")
    assert hybrid[0] == CAT_PURR
    hits = filled.query(
        mode="hybrid",
        dense=unit(1.0, 0.4),
        sparse=BM25.embed_query("zeppelin harbour"),
        limit=10,
    )
    order = ids(hits)
    # The cats' cosines (1.0 and 0.93) outweigh the keyword half's share alone (0.4)...
    assert order[:3] == [CAT_PURR, CAT_MAT, ZEPPELIN]
    scores = {hit.id: hit.score for hit in hits}
    # ... which the zeppelin gets whole (the best BM25, cosine 0), above every other chunk.
    assert scores[ZEPPELIN] == pytest.approx(1 - DENSE_SHARE, abs=0.01)
    assert all(scores[other] < scores[ZEPPELIN] - 0.3 for other in order[3:])


def test_filters_on_doc_id_and_kind(filled: VectorStore) -> None:
    money = {STOCKS, chunk_point_id("doc-money", 1)}
    modes: list[SearchMode] = ["dense", "keyword", "hybrid"]
    for mode in modes:
        dense, text = unit(1.0), "cat zeppelin stock"
        assert set(search(filled, mode, dense=dense, text=text)) - money, mode  # unfiltered
        found = search(filled, mode, dense=dense, text=text, where={"doc_id": "doc-money"})
        assert found, mode
        assert set(found) <= money, mode
        cats = {"kind": "chunk", "doc_id": "doc-cats"}
        found = search(filled, mode, dense=dense, text=text, where=cats)
        assert set(found) <= {CAT_MAT, CAT_PURR} and found, mode
    assert filled.count({"kind": "document"}) == 1
    assert filled.count({"kind": "chunk", "doc_id": "doc-sky"}) == 1
    assert filled.count({"kind": "document", "doc_id": "doc-cats"}) == 0
    listed = [r.id for r in filled.scroll({"kind": "document"})]
    assert listed == [document_point_id("doc-sky")]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_offset_gives_the_next_page(filled: VectorStore, mode: SearchMode) -> None:
    dense = unit(0.1, 0.05, 1.0, 0.4, 0.3, 0.1, 0.2, 0.3)
    text = "warm fire zeppelin"
    everything = search(filled, mode, dense=dense, text=text, limit=6)
    assert len(everything) == CHUNK_COUNT
    first = search(filled, mode, dense=dense, text=text, limit=2)
    second = search(filled, mode, dense=dense, text=text, limit=2, offset=2)
    third = search(filled, mode, dense=dense, text=text, limit=2, offset=4)
    assert first + second + third == everything
    assert not set(first) & set(second)


def test_recommend_excludes_the_point_itself(filled: VectorStore) -> None:
    similar = filled.recommend(CAT_MAT, limit=3)
    assert CAT_MAT not in ids(similar)
    assert ids(similar)[0] == CAT_PURR
    only_money = filled.recommend(CAT_MAT, limit=3, where={"doc_id": "doc-money"})
    assert set(ids(only_money)) == {STOCKS, chunk_point_id("doc-money", 1)}
    # A vectorless point, or an unknown one, has no neighbours.
    assert filled.recommend(document_point_id("doc-sky"), limit=3) == []
    assert filled.recommend(chunk_point_id("nope", 0), limit=3) == []


def test_scroll_returns_every_point_with_vectors(filled: VectorStore) -> None:
    records = list(filled.scroll(with_vectors=True, batch_size=2))
    by_id = {r.id: r for r in records}
    assert len(records) == len(by_id) == CHUNK_COUNT + 2
    for point in corpus_points():
        record = by_id[point.id]
        assert record.payload == point.payload
        if point.dense is None:
            assert record.dense is None
        else:
            # Edge stores dense vectors in float16 (search.edge_shard): 11 bits of precision.
            assert record.dense == pytest.approx(point.dense, abs=1e-3)
    chunks = list(filled.scroll({"kind": "chunk"}))
    assert len(chunks) == CHUNK_COUNT
    assert all(r.dense is None for r in chunks)  # vectors only when asked


def test_vectorless_points_are_retrievable_but_never_searched(filled: VectorStore) -> None:
    doc_point = document_point_id("doc-sky")
    [record] = filled.retrieve([doc_point], with_vectors=True)
    assert record.payload["filename"] == "sky.txt"
    assert record.dense is None
    for vector in (unit(0, 0, 0, 0, 1.0), unit(1.0), unit(*[1.0] * DIM)):
        found = search(filled, "dense", dense=vector, limit=100)
        assert doc_point not in found and COLLECTION_POINT_ID not in found
        assert len(found) == CHUNK_COUNT
    found = search(filled, "hybrid", dense=unit(0, 0, 0, 0, 1.0), text="zeppelin", limit=100)
    assert found[0] == ZEPPELIN and doc_point not in found


def test_close_is_idempotent_and_final(filled: VectorStore) -> None:
    filled.close()
    filled.close()
    with pytest.raises(StoreUnavailableError):
        filled.count()


# -- both engines side by side ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "dense", "text"),
    [
        ("hybrid", unit(1.0, 0.3, 0.2, 0.1, 0.05, 0.02, 0.3, 0.1), "cat zeppelin tomato"),
        ("hybrid", unit(1.0, 0.3, 0.2, 0.1, 0.05, 0.02, 0.3, 0.1), "purr harbour"),
        ("hybrid", unit(0.1, 0.05, 1.0, 0.4, 0.3, 0.1, 0.2, 0.3), "warm fire zeppelin"),
        ("dense", unit(0.2, 0.1, 1.0, 0.3, 0.4, 0.1, 0.1, 0.2), ""),
        ("keyword", None, "cat zeppelin tomato"),
    ],
)
def test_engines_rank_alike(
    tmp_path: Path, mode: SearchMode, dense: list[float] | None, text: str
) -> None:
    """Same data, same query: the same ranking (fused scores differ in scale, so not scores)."""
    rankings = []
    for engine in ("edge", "server"):
        opened = make_store(engine, tmp_path)
        try:
            opened.ensure_collection(INFO)
            opened.upsert(corpus_points())
            sparse = BM25.embed_query(text) if mode != "dense" else None
            hits = opened.query(mode=mode, dense=dense, sparse=sparse, limit=10)
            scores = [hit.score for hit in hits]
            # Strictly decreasing, so the comparison of orders is meaningful (no ties).
            assert scores == sorted(set(scores), reverse=True), (engine, scores)
            rankings.append(ids(hits))
        finally:
            opened.close()
    assert len(rankings[0]) >= 3
    assert rankings[0] == rankings[1]


# -- Edge only -------------------------------------------------------------------------------
