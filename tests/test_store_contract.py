"""One contract, two engines: the same tests run on Qdrant Edge and on qdrant-client.

In the style of qdrant-client's congruence tests: every test takes the ``store`` fixture, which
is an ``EdgeStore`` in a temporary folder or a ``ClientStore`` in qdrant-client's ``:memory:``
mode (the stand-in for a server). Dense vectors are small hand-made unit vectors (dimension 8),
so the expected neighbours are obvious; sparse vectors are real BM25 from ``Bm25Encoder``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from search.client_store import ClientStore
from search.edge_store import EdgeStore
from search.errors import ModelMismatchError, SearchError, StoreUnavailableError
from search.sparse import Bm25Encoder
from search.store import (
    COLLECTION_POINT_ID,
    CollectionInfo,
    DateRange,
    ScoredHit,
    SearchMode,
    StoredPoint,
    VectorStore,
    Where,
    chunk_point_id,
    document_point_id,
)

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


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
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
    # Dense alone prefers the cat chunks; the keyword pulls the zeppelin ahead of the others.
    dense_only = search(filled, "dense", dense=unit(1.0, 0.4))
    assert dense_only[0] == CAT_PURR
    hybrid = search(filled, "hybrid", dense=unit(1.0, 0.4), text="purr")
    assert hybrid[0] == CAT_PURR
    hybrid = search(filled, "hybrid", dense=unit(1.0, 0.4), text="zeppelin harbour")
    assert hybrid.index(ZEPPELIN) < dense_only.index(ZEPPELIN)
    assert hybrid.index(ZEPPELIN) <= 2


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
            assert record.dense == pytest.approx(point.dense, abs=1e-6)
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


# -- labels: list fields, any-of and nested keys ---------------------------------------------

# Tags and metadata as the pipeline stores them on every chunk; doc-food has neither field.
LABELS: dict[str, dict[str, object]] = {
    "doc-cats": {"tags": ["pets", "home"], "meta": {"author": "ann"}},
    "doc-money": {"tags": ["finance"], "meta": {"author": "bob", "year": "2024"}},
    "doc-sky": {"tags": ["travel", "pets"], "meta": {"author": "ann", "year": "2023"}},
}
CAT_IDS = {CAT_MAT, CAT_PURR}
MONEY_IDS = {STOCKS, chunk_point_id("doc-money", 1)}


@pytest.fixture
def labelled(filled: VectorStore) -> VectorStore:
    points = [p for p in corpus_points() if p.payload["kind"] == "chunk"]
    for point in points:
        point.payload.update(LABELS.get(point.payload["doc_id"], {}))
    filled.upsert(points)
    return filled


def chunk_ids(store: VectorStore, where: Where) -> set[str]:
    return {record.id for record in store.scroll({"kind": "chunk", **where})}


def test_a_tag_matches_points_whose_list_holds_it(labelled: VectorStore) -> None:
    assert chunk_ids(labelled, {"tags": "pets"}) == CAT_IDS | {ZEPPELIN}
    assert chunk_ids(labelled, {"tags": "finance"}) == MONEY_IDS
    assert chunk_ids(labelled, {"tags": "Pets"}) == set()  # exact: case is the caller's job


def test_a_list_value_means_any_of(labelled: VectorStore) -> None:
    assert chunk_ids(labelled, {"tags": ["finance", "travel"]}) == MONEY_IDS | {ZEPPELIN}
    assert chunk_ids(labelled, {"tags": ("home", "nope")}) == CAT_IDS
    assert labelled.count({"tags": ["pets", "home", "finance"]}) == 5
    for mode in ("dense", "keyword", "hybrid"):
        found = search(
            labelled, mode, dense=unit(1.0), text="cat stock zeppelin", where={"tags": ["travel"]}
        )
        assert found == [ZEPPELIN], mode
    with pytest.raises(ValueError, match="empty any-of"):
        labelled.count({"tags": []})


def test_two_fields_are_a_conjunction(labelled: VectorStore) -> None:
    assert chunk_ids(labelled, {"tags": "pets", "doc_id": "doc-sky"}) == {ZEPPELIN}
    assert chunk_ids(labelled, {"tags": ["pets", "finance"], "meta.author": "bob"}) == MONEY_IDS
    assert chunk_ids(labelled, {"tags": "finance", "doc_id": "doc-cats"}) == set()
    similar = labelled.recommend(CAT_MAT, limit=5, where={"kind": "chunk", "tags": "pets"})
    assert set(ids(similar)) == {CAT_PURR, ZEPPELIN}


def test_a_dotted_key_matches_a_nested_payload_field(labelled: VectorStore) -> None:
    assert chunk_ids(labelled, {"meta.author": "ann"}) == CAT_IDS | {ZEPPELIN}
    assert chunk_ids(labelled, {"meta.author": "ann", "meta.year": "2023"}) == {ZEPPELIN}
    assert chunk_ids(labelled, {"meta.year": ["2023", "2024"]}) == MONEY_IDS | {ZEPPELIN}
    assert chunk_ids(labelled, {"meta.author": "carol"}) == set()
    found = search(labelled, "hybrid", dense=unit(1.0), text="cat", where={"meta.author": "bob"})
    assert set(found) == MONEY_IDS


def test_delete_by_a_label_filter_removes_only_matches(labelled: VectorStore) -> None:
    labelled.delete({"tags": "pets", "meta.author": "ann", "doc_id": "doc-cats"})
    assert labelled.count({"doc_id": "doc-cats"}) == 0
    assert chunk_ids(labelled, {"tags": "pets"}) == {ZEPPELIN}
    labelled.delete({"doc_id": "doc-money"})  # by document, as before
    assert labelled.count({"kind": "chunk"}) == 2  # the zeppelin and the soup
    assert labelled.count({"kind": "document"}) == 1
    assert labelled.collection_info() == INFO


# -- date ranges and file types (ingested_at, mime) --------------------------------------------

# As the pipeline writes them on every chunk: RFC 3339 instants (the money one in +02:00).
INGESTED: dict[str, dict[str, object]] = {
    "doc-cats": {"ingested_at": "2024-01-05T10:00:00+00:00", "mime": "application/pdf"},
    "doc-money": {"ingested_at": "2024-03-01T01:30:00+02:00", "mime": "text/markdown"},
    "doc-sky": {"ingested_at": "2025-06-01T00:00:00+00:00", "mime": "application/pdf"},
}


@pytest.fixture
def dated(filled: VectorStore) -> VectorStore:
    points = [p for p in corpus_points() if p.payload["kind"] == "chunk"]
    for point in points:
        point.payload.update(INGESTED.get(point.payload["doc_id"], {}))
    filled.upsert(points)
    return filled


def test_a_date_range_compares_instants(dated: VectorStore) -> None:
    after_2024 = DateRange(gte="2024-01-01T00:00:00+00:00")
    assert chunk_ids(dated, {"ingested_at": after_2024}) == CAT_IDS | MONEY_IDS | {ZEPPELIN}
    # gte is inclusive, lt exclusive.
    at_cats = DateRange(gte="2024-01-05T10:00:00+00:00", lt="2024-01-05T10:00:01+00:00")
    assert chunk_ids(dated, {"ingested_at": at_cats}) == CAT_IDS
    assert chunk_ids(dated, {"ingested_at": DateRange(lt="2024-01-05T10:00:00+00:00")}) == set()
    # 01:30+02:00 is 23:30 UTC the day before: compared as an instant, not as text.
    feb = DateRange(gte="2024-02-29T00:00:00+00:00", lt="2024-03-01T00:00:00+00:00")
    assert chunk_ids(dated, {"ingested_at": feb}) == MONEY_IDS
    # doc-food has no ingested_at, so no range holds it.
    assert chunk_ids(dated, {"ingested_at": DateRange(lt="2030-01-01T00:00:00Z")}) == (
        CAT_IDS | MONEY_IDS | {ZEPPELIN}
    )
    for mode in ("dense", "keyword", "hybrid"):
        where: Where = {"kind": "chunk", "ingested_at": DateRange(gte="2025-01-01T00:00:00Z")}
        found = search(dated, mode, dense=unit(1.0), text="cat stock zeppelin", where=where)
        assert found == [ZEPPELIN], mode
    similar = dated.recommend(
        CAT_MAT, limit=5, where={"ingested_at": DateRange(lt="2025-01-01T00:00:00Z")}
    )
    assert set(ids(similar)) == {CAT_PURR} | MONEY_IDS
    with pytest.raises(ValueError, match="gte or lt"):
        DateRange()


def test_a_mime_filter_with_a_date_range(dated: VectorStore) -> None:
    assert chunk_ids(dated, {"mime": "application/pdf"}) == CAT_IDS | {ZEPPELIN}
    assert chunk_ids(dated, {"mime": ["text/markdown", "text/csv"]}) == MONEY_IDS
    recent_pdfs: Where = {
        "mime": ["application/pdf"],
        "ingested_at": DateRange(gte="2025-01-01T00:00:00Z"),
    }
    assert chunk_ids(dated, recent_pdfs) == {ZEPPELIN}
    dated.delete({"ingested_at": DateRange(lt="2025-01-01T00:00:00Z")})
    assert dated.count({"kind": "chunk"}) == 2  # the zeppelin and the soup


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
