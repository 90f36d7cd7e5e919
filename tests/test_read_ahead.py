"""Read-ahead (``ingest.read_ahead``) keeps what reading one file at a time guaranteed.

The next files are loaded and chunked on threads while the runner embeds, so they can finish
out of order; the outcomes must still come back in input order, a file that fails to load must
fail alone, and what stops a run (``MemoryError``, the store's errors) must stop it at that file
with nothing started after it. No timing is asserted: events force the out-of-order cases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.models import Document, PageProgress, SourceFile
from ingest.read_ahead import read_ahead
from search.errors import SearchError
from tests.durability_support import fake_services
from tests.pipeline_support import pipeline_over
from web.services import Services

WAIT_S = 30.0  # only a bound on a hang: the events below are set long before


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The real services, embedding through the loopback fake of Hugging Face's router."""
    with fake_services(tmp_path) as opened:
        yield opened


GOOD = b"Wheat prices rose sharply after the drought in the plains."


def test_outcomes_keep_input_order_and_failures_stay_with_their_file(services: Services) -> None:
    """The first file is read only after the third, on another thread; a reader's bug and a
    parse error each fail their own file; the same bytes again are "unchanged"."""
    third_read = threading.Event()
    first_waited: list[bool] = []
    threads: set[str] = set()

    def read(name: str, data: bytes, progress: PageProgress | None = None) -> Document:
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
    pipeline = pipeline_over(services, read=read, read_ahead=3)
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

    def read(name: str, data: bytes, progress: PageProgress | None = None) -> Document:
        read_names.append(name)
        if name == "fatal.txt":
            raise fatal
        return load_document(name, data)

    names = ["a.txt", "b.txt", "fatal.txt", "c.txt", "d.txt"]
    files = [SourceFile(name, GOOD + name.encode()) for name in names]
    pipeline = pipeline_over(services, read=read, read_ahead=1)
    outcomes = []
    with pytest.raises(type(fatal)):
        for outcome in pipeline.ingest_many(files, slice_size=1):
            outcomes.append(outcome)
    assert [o.filename for o in outcomes] == ["a.txt", "b.txt"]
    assert read_names == ["a.txt", "b.txt", "fatal.txt"]


def test_the_services_read_ahead_through_the_isolated_reader(services: Services) -> None:
    """The wiring: one read-ahead thread per reader process, and the outcomes as without. Each
    file is parsed on that thread, and a file after the first slice is parsed while the caller
    stores that slice: the caller waits, in the progress callback as the first file is stored,
    for note2.txt (after broken.pdf, refused before parsing) to be reported parsing, which
    without read-ahead would come only once the first two files had been handed back."""
    assert services.reader.workers == 1
    caller = threading.current_thread().name
    parsed_on: set[str] = set()
    later_parsing = threading.Event()
    later_before_first_stored: list[bool] = []

    def progress(index: int, stage: str, done: int, total: int) -> None:
        if stage == "parsing":
            parsed_on.add(threading.current_thread().name)
            if index == 3:
                later_parsing.set()
        if stage == "storing" and index == 0 and done == 0:
            later_before_first_stored.append(later_parsing.wait(WAIT_S))

    files = [SourceFile(f"note{n}.txt", GOOD + b" %d" % n) for n in range(5)]
    files.insert(2, SourceFile("broken.pdf", b"this is not a PDF at all"))
    outcomes = list(services.pipeline.ingest_many(files, slice_size=2, progress=progress))
    assert later_before_first_stored == [True]
    assert parsed_on and caller not in parsed_on  # none was parsed in the caller's thread
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
