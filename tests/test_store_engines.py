"""What only one engine has: Edge's folder on disk and its one-process lock, the server's URL."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
import qdrant_edge as qe

from search.client_store import ClientStore
from search.edge_store import EdgeStore
from search.errors import ModelMismatchError, StoreUnavailableError
from search.factory import open_store
from search.points import KEYWORD_INDEXES as INDEXED_FIELDS
from search.store import CollectionInfo, StoredPoint, compact, warm_up_in_background
from tests.store_support import (
    CAT_MAT,
    CAT_PURR,
    CHUNK_COUNT,
    DIM,
    INFO,
    STOCKS,
    ZEPPELIN,
    corpus_points,
    search,
    unit,
)


def test_edge_data_persists_after_reopen(tmp_path: Path) -> None:
    folder = tmp_path / "shard"
    first = EdgeStore(folder)
    first.ensure_collection(INFO)
    first.upsert(corpus_points())
    first.delete({"doc_id": "doc-food"})
    first.close()

    again = EdgeStore(folder)
    try:
        assert again.collection_info() == INFO
        assert again.count({"kind": "chunk"}) == CHUNK_COUNT - 1
        assert search(again, "keyword", text="zeppelin") == [ZEPPELIN]
        again.ensure_collection(INFO)
        with pytest.raises(ModelMismatchError, match=str(folder)):
            again.ensure_collection(CollectionInfo(model="test/model-b", dimension=DIM))
    finally:
        again.close()


def test_edge_second_handle_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shard"
    first = EdgeStore(folder)
    first.ensure_collection(INFO)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            EdgeStore(folder)
        assert str(folder) in caught.value.message
        assert "semsearch serve" in caught.value.message
        assert "WouldBlock" not in caught.value.message
    finally:
        first.close()
    reopened = EdgeStore(folder)  # the lock goes with close()
    assert reopened.collection_info() == INFO
    reopened.close()


def test_factory_picks_the_engine(tmp_path: Path) -> None:
    edge = open_store(data_dir=tmp_path, qdrant_url=None, qdrant_api_key=None, collection="c1")
    server = open_store(
        data_dir=tmp_path, qdrant_url=":memory:", qdrant_api_key=None, collection="c1"
    )
    try:
        assert (edge.engine, server.engine) == ("edge", "server")
        edge.ensure_collection(INFO)
        assert (tmp_path / "qdrant" / "c1").is_dir()
    finally:
        edge.close()
        server.close()


def test_unreachable_server_names_qdrant_url() -> None:
    # Port 9 (discard): nothing listens there.
    unreachable = ClientStore("http://127.0.0.1:9", None, "documents", check_compatibility=False)
    try:
        with pytest.raises(StoreUnavailableError, match=r"QDRANT_URL=http://127\.0\.0\.1:9"):
            unreachable.count()
    finally:
        unreachable.close()


def test_edge_shard_of_an_older_version_gains_the_new_indexes(tmp_path: Path) -> None:
    """A shard created when only ``doc_id`` and ``kind`` were indexed gets the fields added
    since (``tags``, ``filename``) when opened, and its labelled points filter as before."""
    folder = tmp_path / "shard"
    folder.mkdir()
    config = qe.EdgeConfig(
        vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)},
        sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )
    old = qe.EdgeShard.create(str(folder), config)
    for field in ("doc_id", "kind"):
        old.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
    old.flush()
    old.close()

    store = EdgeStore(folder)
    try:
        store.ensure_collection(INFO)
        store.upsert(
            [
                StoredPoint(
                    id=p.id, payload={**p.payload, "tags": ["x"]}, dense=p.dense, sparse=p.sparse
                )
                for p in corpus_points()
            ]
        )
        assert store.count({"tags": ["x", "y"], "kind": "chunk"}) == CHUNK_COUNT
        # Its optimizer would build an HNSW graph (minutes at scale): never compacted.
        assert store.compact() is False
    finally:
        store.close()
    shard = qe.EdgeShard.load(str(folder))
    try:
        assert set(INDEXED_FIELDS) <= set(shard.info().payload_schema)
    finally:
        shard.close()


def test_edge_warm_up_reads_every_point_in_a_thread_and_stops_when_closed(
    tmp_path: Path,
) -> None:
    store = EdgeStore(tmp_path / "shard")
    store.ensure_collection(INFO)
    store.upsert(corpus_points())
    total = store.count()
    thread = warm_up_in_background(store)
    assert thread is not None and thread.daemon
    thread.join(timeout=60)
    assert store.warm_up() == total  # the collection point too
    assert search(store, "keyword", text="zeppelin") == [ZEPPELIN]
    store.close()
    assert store.warm_up() == 0  # a closed store ends it quietly, not with an error
    assert warm_up_in_background(ClientStore(":memory:", None, "documents")) is None


def _answers(store: EdgeStore) -> list[object]:
    """What a user can ask of the store's chunks: searches in each mode, filters, counts."""
    chunks = {"kind": "chunk"}
    return [
        search(store, "dense", dense=unit(1.0, 0.2), limit=2, where=chunks),
        search(store, "dense", dense=unit(0, 0, 1.0), where={"doc_id": "doc-money"}),
        search(store, "keyword", text="zeppelin harbour", where=chunks),
        # As a set: Edge orders RRF ties differently from one call to the next.
        sorted(search(store, "hybrid", dense=unit(0, 0, 1.0, 0.3), text="cat", where=chunks)),
        store.count(chunks),
        sorted(r.id for r in store.scroll(chunks)),
    ]


def _filler(count: int) -> list[StoredPoint]:
    """Points that make a segment big enough to compact (Edge skips segments under 1 KB)."""
    rng = random.Random(7)
    return [
        StoredPoint(
            id=str(uuid.UUID(int=rng.getrandbits(128))),
            dense=unit(*[rng.uniform(-1, 1) for _ in range(DIM)]),
            payload={"kind": "filler", "doc_id": "doc-filler"},
        )
        for _ in range(count)
    ]


def test_edge_compaction_rewrites_new_writes_and_changes_no_answer(tmp_path: Path) -> None:
    folder = tmp_path / "shard"
    store = EdgeStore(folder)
    store.ensure_collection(INFO)
    store.upsert([*corpus_points(), *_filler(300)])
    before = _answers(store)
    assert set(before[0]) == {CAT_MAT, CAT_PURR} and before[2] == [ZEPPELIN]
    assert compact(store) is not None  # rewritten: the seconds it took
    assert store.compact() is False  # nothing new since
    assert _answers(store) == before
    # Writes after a compaction land beside the compacted segment and are found at once.
    store.delete({"doc_id": "doc-money"})
    assert STOCKS not in search(store, "dense", dense=unit(0, 0, 1.0))
    store.upsert([*corpus_points(), *_filler(300)])
    assert _answers(store) == before
    assert store.compact() is True
    store.close()
    again = EdgeStore(folder)
    try:
        assert _answers(again) == before
        assert again.compact() is False
    finally:
        again.close()
    assert compact(ClientStore(":memory:", None, "documents")) is None  # a server optimizes itself
