"""A delete of a document while it is being written waits for the write, then wins.

Before the per-document lock (``ingest.doc_locks``), ``IngestPipeline.delete`` and the write
stage interleaved: the delete removed the "processing" marker and the chunks written so far,
the write went on with the rest and its "done" point, and the deleted document came back. Real
threads, the real pipeline and Qdrant Edge; embeddings come from the loopback fake of Hugging
Face's router, so that a document of two thousand chunks is embedded in a second or two and its
write (marker to "done" point) lasts long enough for the delete to land in the middle of it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.doc_locks import DocumentLocks
from ingest.models import IngestOutcome
from tests.durability_support import fake_services
from web.services import Services

# About 2,100 chunks: their write takes a few hundred milliseconds.
BIG = "\n\n".join(
    f"Paragraph {n}: the harbour master logged ship {n} carrying copper, tin and grain to the "
    "northern ports before the storm."
    for n in range(14_000)
).encode()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fake_services(tmp_path) as opened:
        yield opened


def test_a_delete_during_the_write_waits_for_it_and_nothing_comes_back(
    services: Services,
) -> None:
    doc_id = hashlib.sha256(BIG).hexdigest()
    outcomes: list[IngestOutcome] = []
    writer = threading.Thread(
        target=lambda: outcomes.append(services.pipeline.ingest("big.txt", BIG)), daemon=True
    )
    writer.start()
    deadline = time.monotonic() + 120
    while True:  # the delete comes as soon as the write has begun
        found = services.catalog.find(doc_id)
        if found is not None and found.status == "processing":
            break
        assert writer.is_alive(), f"the write ended before its marker was seen: {outcomes}"
        assert time.monotonic() < deadline, "the write never began"
        time.sleep(0.001)
    deleted = services.pipeline.delete(doc_id)
    writer.join(timeout=120)

    assert outcomes and outcomes[0].status == "done"
    assert outcomes[0].chunks > 1000
    # Nothing came back: no point of the document, no original.
    assert services.catalog.find(doc_id) is None
    assert services.store.count({"doc_id": doc_id}) == 0
    assert not services.originals.path(doc_id, "big.txt").exists()
    # The delete waited for the write, and removed the finished document.
    assert (deleted.status, deleted.chunks) == ("done", outcomes[0].chunks)


def test_a_second_holder_waits_and_the_table_empties() -> None:
    locks = DocumentLocks()
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with locks.hold("doc"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with locks.hold("doc"):
        holding.set()
        with locks.hold("other"):  # another document is not held up
            order.append("other")
        time.sleep(0.05)
        with locks.hold("doc"):  # re-entrant within a thread
            order.append("first")
    thread.join(timeout=10)
    assert order == ["other", "first", "second"]
    assert len(locks) == 0
