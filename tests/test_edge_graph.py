"""The embedded store's graph, built in a builder process over a copy (search.edge_graph):
writes made during the build are kept, a hand-over cut short is undone, and what is built is an
HNSW graph that answers as the scan did. Real Qdrant Edge shards, small hand-made vectors."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import qdrant_edge as qe

from search import edge_graph
from search.edge_store import EdgeStore
from search.store import StoredPoint
from tests.store_support import DIM, INFO, corpus_points, search, unit


def filler(count: int, *, seed: int, doc: str = "doc-filler") -> list[StoredPoint]:
    rng = random.Random(seed)
    return [
        StoredPoint(
            id=str(uuid.UUID(int=rng.getrandbits(128))),
            dense=unit(*[rng.uniform(-1, 1) for _ in range(DIM)]),
            payload={"kind": "chunk", "doc_id": doc},
        )
        for _ in range(count)
    ]


def index_types(folder: Path) -> set[str]:
    return {
        json.loads(path.read_text())["config"]["vector_data"]["dense"]["index"]["type"]
        for path in folder.glob("segments/*/segment.json")
    }


def wait_built(store: EdgeStore) -> bool:
    deadline = time.monotonic() + 120
    while (done := store.finish_compaction()) is None:
        assert time.monotonic() < deadline, "the builder did not finish"
        time.sleep(0.05)
    return done


def test_a_graph_is_built_and_answers_as_the_scan_did(tmp_path: Path) -> None:
    folder = tmp_path / "shard"
    store = EdgeStore(folder)
    try:
        store.ensure_collection(INFO)
        store.upsert([*corpus_points(), *filler(2000, seed=1)])
        query = unit(1.0)
        before = search(store, "dense", dense=query, limit=10)
        assert index_types(folder) == {"plain"}
        assert store.compact() is True
        assert "hnsw" in index_types(folder)
        assert search(store, "dense", dense=query, limit=10) == before
        assert not edge_graph.build_folder(folder).exists()
        assert store.compact() is False  # nothing new since
    finally:
        store.close()


def test_writes_made_while_the_graph_is_built_are_kept_and_found(tmp_path: Path) -> None:
    folder = tmp_path / "shard"
    store = EdgeStore(folder)
    try:
        store.ensure_collection(INFO)
        store.upsert([*corpus_points(), *filler(2000, seed=1), *filler(50, seed=2, doc="doc-a")])
        total = store.count()
        assert store.start_compaction()
        # While the builder runs: new points, a delete, a payload change.
        added = filler(300, seed=3, doc="doc-new")
        store.upsert(added)
        store.delete({"doc_id": "doc-a"})
        store.set_payload({"doc_id": "doc-cats"}, {"status": "renamed"})
        assert wait_built(store) is True
        assert store.count() == total + 300 - 50
        assert store.count({"doc_id": "doc-a"}) == 0
        assert store.count({"doc_id": "doc-new"}) == 300
        assert {r.payload["status"] for r in store.scroll({"doc_id": "doc-cats"})} == {"renamed"}
        newest = added[-1]
        assert newest.dense is not None
        hits = search(store, "dense", dense=newest.dense, limit=1)
        assert hits == [newest.id]  # searched at once, exactly
    finally:
        store.close()
    again = EdgeStore(folder)
    try:
        assert again.count() == total + 250
    finally:
        again.close()


def test_a_hand_over_cut_short_is_undone_when_the_store_opens(tmp_path: Path) -> None:
    """A crash after the built segments were renamed in, before the journal was replayed: the
    segments of before and the shard's own WAL hold everything, so they are put back."""
    folder = tmp_path / "shard"
    store = EdgeStore(folder)
    store.ensure_collection(INFO)
    store.upsert([*corpus_points(), *filler(2000, seed=1)])
    assert store.start_compaction()
    store.upsert(filler(100, seed=4, doc="doc-during"))  # only in the live shard and journal
    total = store.count()
    builder = edge_graph.build_folder(folder)
    deadline = time.monotonic() + 120
    while "hnsw" not in index_types(builder):  # the builder has written its graph
        assert time.monotonic() < deadline
        time.sleep(0.05)
    store.close()  # as a crash would: the builder stopped, the journal gone
    edge_graph.adopt(folder, builder)  # the renames done, nothing replayed

    again = EdgeStore(folder)
    try:
        assert again.count() == total
        assert again.count({"doc_id": "doc-during"}) == 100
        assert not (folder / edge_graph.OLD_SEGMENTS).exists()
        assert again.compact() is True  # and a compaction works again
        assert again.count() == total
    finally:
        again.close()


def mapped_indexes(folder: Path) -> dict[str, bool]:
    """Each payload index of the shard at ``folder``: True when it stays in its mapped files."""
    shard = qe.EdgeShard.load(str(folder))
    try:
        schema = shard.info().payload_schema
        return {
            field: bool(getattr(info.params, "on_disk", False)) for field, info in schema.items()
        }
    finally:
        shard.close()


def test_payload_indexes_stay_mapped_but_kind_through_a_build(tmp_path: Path) -> None:
    """Edge's load copies heap indexes into memory, holding the GIL, at every hand-over; only
    ``kind``, which every search filters on, stays on the heap, before and after a build."""
    folder = tmp_path / "shard"
    store = EdgeStore(folder)
    try:
        store.ensure_collection(INFO)
        store.upsert([*corpus_points(), *filler(2000, seed=1), *filler(40, seed=5, doc="doc-b")])
    finally:
        store.close()
    created = mapped_indexes(folder)
    assert set(created) >= {"doc_id", "filename", "kind", "tags", "ingested_at"}
    assert created == {field: field != "kind" for field in created}
    store = EdgeStore(folder)
    try:
        assert store.compact() is True
        assert store.count({"doc_id": "doc-b"}) == 40
    finally:
        store.close()
    assert "hnsw" in index_types(folder)
    assert mapped_indexes(folder) == created


def test_the_built_segments_are_read_whole_before_the_hand_over(tmp_path: Path) -> None:
    segments = tmp_path / "segments" / "one"
    segments.mkdir(parents=True)
    (segments / "quantized.data").write_bytes(b"q" * 5_000_000)
    (segments / "payload.dat").write_bytes(b"p" * 1234)
    read, _ = edge_graph.read_into_page_cache(tmp_path)
    assert read == 5_001_234
