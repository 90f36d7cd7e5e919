"""``ingest.isolation.IsolatedReader``: each file is read in a worker process with limits.

Real worker processes (``spawn``), real parsers: a file that takes longer than the limit or
needs more memory fails alone with its reason, the worker is replaced, and the next file reads
as it would have in the server's own process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.errors import DocumentParseError
from ingest.isolation import IsolatedReader, ReadMemoryError, ReadTimeoutError
from ingest.loaders import load_document
from ingest.models import SourceFile
from web.services import open_services
from web.settings import Settings

pytestmark = pytest.mark.slow

NOTE = b"# Notes\n\nThe harbour opened at dawn and the ferries ran on time.\n"


@pytest.fixture(scope="module")
def reader() -> Iterator[IsolatedReader]:
    isolated = IsolatedReader(timeout_s=60, memory_mb=256)
    yield isolated
    isolated.close()


def test_a_file_reads_as_it_does_in_process(reader: IsolatedReader) -> None:
    assert reader.load("notes.md", NOTE) == load_document("notes.md", NOTE)


def test_a_parse_error_is_the_files_with_the_same_words(reader: IsolatedReader) -> None:
    with pytest.raises(DocumentParseError) as isolated:
        reader.load("broken.pdf", b"%PDF-1.4 not really a pdf")
    with pytest.raises(DocumentParseError) as local:
        load_document("broken.pdf", b"%PDF-1.4 not really a pdf")
    assert str(isolated.value) == str(local.value)


def test_a_file_over_the_time_limit_fails_alone_and_its_worker_is_replaced() -> None:
    slow = IsolatedReader(timeout_s=0.01, memory_mb=1024)
    try:
        big = b"a line of text that takes a while to decode and clean\n" * 400_000  # 22 MB
        with pytest.raises(ReadTimeoutError, match=r"took longer than 0\.01 s to read"):
            slow.load("big.txt", big)
        slow.timeout_s = 60
        assert slow.load("notes.md", NOTE).title  # a fresh worker
    finally:
        slow.close()


def test_a_file_over_the_memory_limit_fails_alone_and_its_worker_is_replaced() -> None:
    tight = IsolatedReader(timeout_s=120, memory_mb=64)
    try:
        # 5.6 MB of markup whose parsed tree takes hundreds of MB.
        with pytest.raises(ReadMemoryError, match="needed more than 64 MB to read"):
            tight.load("flat.html", b"<p>x</p>" * 700_000)
        # Bytes that alone are more than the worker may hold.
        with pytest.raises(ReadMemoryError, match="needed more than 64 MB to read"):
            tight.load("big.txt", b"plain words " * 8_000_000)
        assert tight.load("notes.md", NOTE).title
    finally:
        tight.close()


def test_through_the_pipeline_the_hostile_file_fails_alone(
    tmp_path: Path, local_provider: object
) -> None:
    """`open_services` reads through its IsolatedReader: a file over the memory limit is that
    file's failure with its reason, and the files around it are stored."""
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_READ_MEMORY_MB=64)
    files = [
        SourceFile("first.md", NOTE),
        SourceFile("flat.html", b"<p>x</p>" * 700_000),
        SourceFile("last.txt", b"The last note of the day, about the tides."),
    ]
    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        outcomes = list(services.pipeline.ingest_many(files))
        stored = {d.filename for d in services.catalog.documents()}
    assert [o.status for o in outcomes] == ["done", "failed", "done"]
    assert outcomes[1].error == "needed more than 64 MB to read (SEMSEARCH_READ_MEMORY_MB)"
    assert stored == {"first.md", "last.txt"}
