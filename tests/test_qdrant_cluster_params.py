"""The Qdrant cluster settings reach the wire exactly: the collection is created with the
shard number, replication factor and write-consistency factor from the settings, every write
carries the write ordering (and waits), every read the read consistency. The server is
tests/fake_qdrant.py, a real HTTP server on loopback that records each request."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from search.factory import open_store
from search.server_replication import Replication
from search.store import VectorStore
from tests.fake_qdrant import FakeQdrant, Recorded
from tests.store_support import INFO, corpus_points, search, unit
from web.settings import Settings

CLUSTER = {
    "QDRANT_SHARD_NUMBER": "6",
    "QDRANT_REPLICATION_FACTOR": "2",
    "QDRANT_WRITE_CONSISTENCY_FACTOR": "1",
    "QDRANT_READ_CONSISTENCY": "all",
    "QDRANT_WRITE_ORDERING": "strong",
}


def exercise(store: VectorStore) -> None:
    """Every kind of call the product makes: create, index, write, read, delete."""
    store.ensure_collection(INFO)
    store.upsert(corpus_points())
    store.set_payload({"doc_id": "doc-cats"}, {"status": "done"})
    search(store, "dense", dense=unit(1.0))
    store.retrieve([str(point.id) for point in corpus_points()[:2]])
    list(store.scroll({"doc_id": "doc-cats"}))
    store.count()
    store.delete({"doc_id": "doc-cats"})


def exercised(fake: FakeQdrant, replication: Replication) -> None:
    """Every call made through a store on ``fake`` with ``replication``, then closed."""
    store = open_store(
        data_dir=Path("unused"),
        qdrant_url=fake.url,
        qdrant_api_key=None,
        collection="documents",
        replication=replication,
    )
    try:
        exercise(store)
    finally:
        store.close()


def writes(fake: FakeQdrant) -> list[Recorded]:
    return [
        *fake.recorded("PUT", "/points"),
        *fake.recorded("POST", "/points/delete"),
        *fake.recorded("POST", "/points/payload"),
        *fake.recorded("PUT", "/index"),
    ]


def reads(fake: FakeQdrant) -> list[Recorded]:
    return [
        *fake.recorded("POST", "/points/query"),
        *fake.recorded("POST", "/points/scroll"),
        *[r for r in fake.recorded("POST", "/points") if r.path.endswith("/documents/points")],
    ]


def test_settings_reach_the_collection_and_every_call() -> None:
    with FakeQdrant() as fake:
        settings = Settings(QDRANT_URL=fake.url, **CLUSTER)  # type: ignore[arg-type]
        exercised(fake, settings.replication())

    (created,) = fake.recorded("PUT", "/collections/documents")
    assert created.body["shard_number"] == 6
    assert created.body["replication_factor"] == 2
    assert created.body["write_consistency_factor"] == 1
    assert created.body["vectors"]["dense"]["distance"] == "Cosine"
    assert {"PUT", "POST"} <= {r.method for r in writes(fake)}
    for request in writes(fake):
        assert request.query.get("ordering") == "strong", request
        assert request.query.get("wait") == "true", request
    assert len(reads(fake)) >= 3
    for request in reads(fake):
        assert request.query.get("consistency") == "all", request


def test_the_defaults_order_writes_and_read_a_quorum_and_leave_sharding_to_the_server() -> None:
    with FakeQdrant() as fake:
        exercised(fake, Settings().replication())

    (created,) = fake.recorded("PUT", "/collections/documents")
    for name in ("shard_number", "replication_factor", "write_consistency_factor"):
        assert name not in created.body
    assert {r.query.get("ordering") for r in writes(fake)} == {"medium"}
    assert {r.query.get("consistency") for r in reads(fake)} == {"quorum"}


def test_a_number_of_replicas_is_a_read_consistency() -> None:
    with FakeQdrant() as fake:
        exercised(fake, Replication(read_consistency="1"))
    assert {r.query.get("consistency") for r in reads(fake)} == {"1"}


def test_more_acknowledgements_than_replicas_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="QDRANT_WRITE_CONSISTENCY_FACTOR=3 is more than"):
        Settings(QDRANT_REPLICATION_FACTOR=2, QDRANT_WRITE_CONSISTENCY_FACTOR=3)


def test_an_unknown_ordering_names_the_choices() -> None:
    with pytest.raises(ValidationError, match="weak"):
        Settings(QDRANT_WRITE_ORDERING="eventual")
