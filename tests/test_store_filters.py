"""Payload filters of the store contract on both engines: tags and metadata (lists, any-of,
nested keys), date ranges and file types, as the pipeline stores them on every chunk."""

from __future__ import annotations

import pytest

from ingest.backfill import backfill_chunk_fields
from search.points import chunk_point_id, document_point_id
from search.store import DateRange, StoredPoint, VectorStore, Where
from tests.store_support import (
    CAT_MAT,
    CAT_PURR,
    INFO,
    STOCKS,
    ZEPPELIN,
    corpus_points,
    ids,
    search,
    unit,
)

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


# -- set_payload and the backfill of older chunks -------------------------------------------


def test_set_payload_adds_keys_and_keeps_vectors_and_the_rest(filled: VectorStore) -> None:
    filled.set_payload({"doc_id": "doc-cats", "kind": "chunk"}, {"mime": "text/plain"})
    assert set(search(filled, "dense", dense=unit(1.0), where={"mime": "text/plain"})) == CAT_IDS
    assert search(filled, "keyword", text="purr", where={"mime": "text/plain"}) == [CAT_PURR]
    [record] = filled.retrieve([CAT_MAT])
    assert record.payload["text"].startswith("The cat sat") and record.payload["chunk_index"] == 0
    far = search(filled, "dense", dense=unit(0, 0, 1.0), where={"mime": "text/plain"})
    assert set(far) == CAT_IDS  # however far from the query: only the chunks given the key
    with pytest.raises(ValueError):
        filled.set_payload({}, {"mime": "text/plain"})


def test_backfill_gives_older_chunks_their_file_type_and_date_once(
    filled: VectorStore,
) -> None:
    """The corpus's chunks are written as earlier versions wrote them: no mime, no date."""
    done = {"kind": "document", "status": "done", "ingested_at": "2026-01-02T03:04:05+00:00"}
    filled.upsert(
        [
            StoredPoint(
                id=document_point_id("doc-money"),
                payload={**done, "doc_id": "doc-money", "filename": "q3.pdf"},
            ),
            StoredPoint(
                id=document_point_id("doc-cats"),
                payload={
                    **done,
                    "doc_id": "doc-cats",
                    "filename": "cats.md",
                    "mime": "text/markdown",
                },
            ),
        ]
    )
    assert search(filled, "dense", dense=unit(0, 0, 1.0), where={"mime": "application/pdf"}) == []

    assert backfill_chunk_fields(filled) == 2
    pdf = search(filled, "dense", dense=unit(0, 0, 1.0), where={"mime": "application/pdf"})
    assert set(pdf) == MONEY_IDS  # from the filename: that document point had no mime
    markdown = search(filled, "keyword", text="purr cat", where={"mime": "text/markdown"})
    assert set(markdown) == CAT_IDS
    january = DateRange(gte="2026-01-01T00:00:00+00:00", lt="2026-02-01T00:00:00+00:00")
    dated = search(filled, "dense", dense=unit(1.0), where={"ingested_at": january}, limit=10)
    assert set(dated) == CAT_IDS | MONEY_IDS
    assert ZEPPELIN not in dated  # doc-sky has no done document point: left alone

    assert backfill_chunk_fields(filled) == 0  # recorded in the collection point
    assert filled.collection_info() == INFO
