"""Read-ahead (``ingest.read_ahead``) keeps what reading one file at a time guaranteed.

The next files are loaded and chunked on threads while the runner embeds, so they can finish
out of order; the outcomes must still come back in input order, a file that fails to load must
fail alone, and what stops a run (``MemoryError``, the store's errors) must stop it at that file
with nothing started after it. No timing is asserted: events force the out-of-order cases.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from embeddings.base import Vector
from ingest.chunking import load_default_tokenizer
from ingest.loaders import load_document
from ingest.models import Document, SourceFile
from ingest.pipeline import IngestPipeline
from ingest.read_ahead import read_ahead
from search.collection import CollectionGuard
from search.errors import SearchError
from search.sparse import Bm25Encoder
from web.services import Services, open_services
from web.settings import Settings

WAIT_S = 30.0  # only a bound on a hang: the events below are set long before


class HashEmbedder:
    """Deterministic unit vectors from a hash of the text: the runner, not the model, is tested."""

    name = "hash"
    model_id = "hash-8"
    dimension = 8

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> Vector:
        return self._vector(text)

    def close(self) -> None:
        return None

    def _vector(self, text: str) -> Vector:
        digest = hashlib.sha256(text.encode()).digest()[:8]
        values = [b + 1.0 for b in digest]
        norm = sum(v * v for v in values) ** 0.5
        return [v / norm for v in values]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with open_services(Settings(SEMSEARCH_DATA_DIR=tmp_path), embedder=HashEmbedder()) as opened:
        yield opened


def pipeline_reading_with(services: Services, read: object, read_ahead: int) -> IngestPipeline:
    """A pipeline like the services' own, reading with ``read`` on ``read_ahead`` threads."""
    return IngestPipeline(
        store=services.store,
        embedder=services.embedder,
        tokenizer=load_default_tokenizer(),
        sparse=Bm25Encoder(),
        chunking=services.settings.chunking(),
        originals=services.originals,
        guard=CollectionGuard(services.store, services.embedder),
        max_upload_bytes=services.settings.max_upload_bytes,
        read=read,  # type: ignore[arg-type]
        read_ahead=read_ahead,
    )


GOOD = b"Wheat prices rose sharply after the drought in the plains."


def test_outcomes_keep_input_order_and_failures_stay_with_their_file(services: Services) -> None:
    """The first file is read only after the third, on another thread; a reader's bug and a
    parse error each fail their own file; the same bytes again are "unchanged"."""
    third_read = threading.Event()
    first_waited: list[bool] = []
    threads: set[str] = set()

    def read(name: str, data: bytes) -> Document:
        threads.add(threading.current_thread().name)
        if name == "first.txt":
            first_waited.append(third_read.wait(WAIT_S))
        if name == "bug.txt":
            raise ValueError("reader bug")
        document = load_document(name, data)
        if name == "third.txt":
            third_read.set()
        return document

    files = [
        SourceFile("first.txt", GOOD),
        SourceFile("bug.txt", b"This file trips the reader."),
        SourceFile("third.txt", b"Crude oil shipments fell as the pipeline was closed."),
        SourceFile("broken.pdf", b"this is not a PDF at all"),
        SourceFile("again.txt", GOOD),
        SourceFile("last.md", b"# Notes\n\nThe central bank held interest rates steady."),
    ]
    pipeline = pipeline_reading_with(services, read, read_ahead=3)
    outcomes = list(pipeline.ingest_many(files, slice_size=2))

    assert first_waited == [True]  # the third file was read before the first finished
    assert threading.current_thread().name not in threads
    assert [o.filename for o in outcomes] == [f.name for f in files]
    assert [o.status for o in outcomes] == ["done", "failed", "done", "failed", "unchanged", "done"]
    assert outcomes[1].error == "could not be read: ValueError: reader bug"
    assert outcomes[3].error
    stored = {d.filename for d in services.catalog.documents()}
    assert stored == {"first.txt", "third.txt", "last.md"}


@pytest.mark.parametrize("fatal", [MemoryError(), SearchError("the store went away")])
def test_what_stops_a_run_stops_it_at_that_file(services: Services, fatal: Exception) -> None:
    """Files before it come back, and no file after it is read."""
    read_names: list[str] = []

    def read(name: str, data: bytes) -> Document:
        read_names.append(name)
        if name == "fatal.txt":
            raise fatal
        return load_document(name, data)

    names = ["a.txt", "b.txt", "fatal.txt", "c.txt", "d.txt"]
    files = [SourceFile(name, GOOD + name.encode()) for name in names]
    pipeline = pipeline_reading_with(services, read, read_ahead=1)
    outcomes = []
    with pytest.raises(type(fatal)):
        for outcome in pipeline.ingest_many(files, slice_size=1):
            outcomes.append(outcome)
    assert [o.filename for o in outcomes] == ["a.txt", "b.txt"]
    assert read_names == ["a.txt", "b.txt", "fatal.txt"]


def test_the_services_read_ahead_through_the_isolated_reader(services: Services) -> None:
    """The wiring: one read-ahead thread per reader process, and the outcomes as without."""
    assert services.reader.workers == 1
    files = [SourceFile(f"note{n}.txt", GOOD + b" %d" % n) for n in range(5)]
    files.insert(2, SourceFile("broken.pdf", b"this is not a PDF at all"))
    outcomes = list(services.pipeline.ingest_many(files, slice_size=2))
    assert [o.filename for o in outcomes] == [f.name for f in files]
    assert [o.status for o in outcomes] == ["done", "done", "failed", "done", "done", "done"]


# --- read_ahead itself -----------------------------------------------------------------------


def test_results_come_in_input_order_whatever_finishes_first() -> None:
    gates = [threading.Event() for _ in range(4)]

    def work(index: int, item: str) -> str:
        if index < 3:  # each waits for the one after it: they finish last to first
            gates[index + 1].wait(WAIT_S)
        gates[index].set()
        return item.upper()

    assert list(read_ahead(["a", "b", "c", "d"], work, workers=4)) == ["A", "B", "C", "D"]


def test_the_input_is_taken_no_further_than_the_bounds() -> None:
    taken: list[int] = []

    def items(count: int) -> Iterator[int]:
        for number in range(count):
            taken.append(number)
            yield number

    results = read_ahead(items(100), lambda _, n: n, workers=2, max_files=3)
    assert next(results) == 0
    assert len(taken) == 4  # the one handed back and three ahead
    by_bytes = read_ahead(items(100), lambda _, n: n, workers=2, size=lambda _: 10, max_bytes=25)
    taken.clear()
    assert next(by_bytes) == 0
    assert len(taken) == 3  # 30 bytes held once the third was taken: no fourth
    assert list(results) == list(range(1, 100))


def test_an_error_taking_an_item_is_raised_at_its_position() -> None:
    def items() -> Iterator[str]:
        yield "a"
        yield "b"
        raise OSError("the spooled upload is gone")

    results = read_ahead(items(), lambda _, item: item, workers=2)
    assert next(results) == "a"
    assert next(results) == "b"
    with pytest.raises(OSError, match="spooled upload"):
        next(results)


def test_a_caller_that_stops_leaves_nothing_running() -> None:
    started: list[int] = []
    finished: list[int] = []
    release = threading.Event()

    def work(index: int, item: int) -> int:
        started.append(index)
        if index > 0:
            release.wait(WAIT_S)
        finished.append(index)
        return item

    results = read_ahead(range(50), work, workers=2, max_files=10)
    assert next(results) == 0
    release.set()
    results.close()  # waits for the files being read; the others are never started
    assert sorted(started) == sorted(finished)  # none still running, none left half-way
    assert len(started) <= 11  # the first and at most ten ahead; the rest never started


def test_no_workers_reads_each_item_when_asked_in_the_callers_thread() -> None:
    taken: list[int] = []
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for number in range(5):
            taken.append(number)
            yield number

    def work(index: int, item: int) -> int:
        threads.add(threading.current_thread().name)
        return item * 2

    results = read_ahead(items(), work, workers=0)
    assert next(results) == 0
    assert taken == [0]
    assert list(results) == [2, 4, 6, 8]
    assert threads == {threading.current_thread().name}
