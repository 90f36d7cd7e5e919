"""The write stage writes the files one slice completed together, in few store calls, and a file
whose original cannot be saved still fails alone.

Written one by one, each file cost its own marker upsert, leftover-chunk delete, chunk upsert,
"done" upsert and older-version lookup: a slice of 40 short files made 160 writes and 40 scrolls.
Real services, Qdrant Edge and originals on disk; vectors from the loopback fake of Hugging
Face's router. The store is the services' own, wrapped to count what the pipeline asks of it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest.models import SourceFile
from search.store import PointRecord, StoredPoint, Where
from tests.durability_support import fake_services
from tests.pipeline_support import pipeline_over
from web.services import Services

TOPICS = ("copper", "wheat", "harbour", "glacier", "violin", "comet", "ledger", "orbit")


class CountingStore:
    """The real store, counting the calls that write to it or scroll it."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        self.calls["upsert"] += 1
        self._store.upsert(points)

    def delete(self, where: Where) -> None:
        self.calls["delete"] += 1
        self._store.delete(where)

    def scroll(self, where: Where | None = None, **options: Any) -> Iterator[PointRecord]:
        self.calls["scroll"] += 1
        return self._store.scroll(where, **options)


def short_files(count: int, version: str = "") -> list[SourceFile]:
    return [
        SourceFile(
            f"note-{n}.txt",
            f"Note {n}{version}: the {TOPICS[n % len(TOPICS)]} report for week {n}.".encode(),
        )
        for n in range(count)
    ]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fake_services(tmp_path) as opened:
        opened.pipeline.ingest("first.txt", b"The first file makes the collection.")
        yield opened


def test_a_slice_of_files_is_written_in_a_handful_of_store_calls(services: Services) -> None:
    store = CountingStore(services.store)
    pipeline = pipeline_over(services, store=store)

    outcomes = list(pipeline.ingest_many(short_files(40)))

    assert [o.status for o in outcomes] == ["done"] * 40
    # markers, leftover chunks, chunks, "done" points, the revision; one older-version lookup
    assert store.calls["upsert"] + store.calls["delete"] <= 6, store.calls
    assert store.calls["scroll"] <= 2, store.calls
    assert services.catalog.count_documents() == 41
    assert services.store.count({"kind": "chunk"}) == 41
    for outcome in outcomes:
        assert outcome.doc_id is not None
        assert services.catalog.get(outcome.doc_id).status == "done"
        assert services.originals.path(outcome.doc_id, outcome.filename).is_file()


def test_an_original_that_cannot_be_saved_fails_its_file_alone(services: Services) -> None:
    files = short_files(5)
    blocked = files[2]
    blocked_id = hashlib.sha256(blocked.data).hexdigest()
    # A folder where its original goes: the rename onto it fails, as a bad disk would.
    services.originals.path(blocked_id, blocked.name).mkdir(parents=True)

    outcomes = list(services.pipeline.ingest_many(files))

    assert [o.status for o in outcomes] == ["done", "done", "failed", "done", "done"]
    error = outcomes[2].error
    assert error is not None and "its original could not be saved" in error
    assert blocked.name in error or str(services.originals.root) in error
    stored = services.catalog.get(blocked_id)
    assert (stored.status, stored.error, stored.chunks) == ("failed", error, 0)
    assert services.store.count({"doc_id": blocked_id, "kind": "chunk"}) == 0
    for outcome in (o for o in outcomes if o.status == "done"):
        assert outcome.doc_id is not None
        assert services.originals.path(outcome.doc_id, outcome.filename).is_file()
        assert services.store.count({"doc_id": outcome.doc_id, "kind": "chunk"}) == 1


def test_each_file_of_a_slice_replaces_its_own_older_version(services: Services) -> None:
    old = list(services.pipeline.ingest_many(short_files(6)))
    new = list(services.pipeline.ingest_many(short_files(6, version=" (revised)")))

    assert [o.status for o in new] == ["done"] * 6
    for before, after in zip(old, new, strict=True):
        assert before.doc_id is not None and after.doc_id is not None
        assert after.replaced == [before.doc_id]  # its own, and only its own
        assert services.catalog.find(before.doc_id) is None
        assert not services.originals.path(before.doc_id, before.filename).exists()
        assert services.originals.path(after.doc_id, after.filename).is_file()
    assert services.catalog.count_documents() == 7
