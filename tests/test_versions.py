"""A changed file uploaded under the same name replaces the older version, and a search running
meanwhile always finds the document (the new chunks are written before the old are removed)."""

from __future__ import annotations

import threading
from pathlib import Path

from ingest.models import SourceFile
from search.request import SearchRequest
from web.services import open_services
from web.settings import Settings

COMMON = "The harbour authority publishes the cocoa shipping schedule every week."


def version(number: int, paragraphs: int = 3) -> bytes:
    body = "\n\n".join(
        f"Section {n} of version {number}. {COMMON} Version {number} notes vessel "
        f"number {n * 7 + number} and its berth." * 3
        for n in range(paragraphs)
    )
    return f"# Schedule\n\n{body}\n\nOnly in version {number}: marker{number}word.\n".encode()


def test_a_changed_file_replaces_its_older_version(tmp_path: Path, local_provider: object) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path)
    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        first = services.pipeline.ingest("schedule.md", version(1))
        second = services.pipeline.ingest("schedule.md", version(2))
        assert first.doc_id and second.doc_id and first.doc_id != second.doc_id
        assert second.status == "done" and second.replaced == [first.doc_id]
        assert services.store.count({"doc_id": first.doc_id}) == 0
        assert not services.originals.path(first.doc_id, "schedule.md").exists()
        assert services.originals.path(second.doc_id, "schedule.md").exists()
        old = services.search.search(SearchRequest("marker1word", mode="keyword")).results
        new = services.search.search(SearchRequest("marker2word", mode="keyword")).results
        assert old == []
        assert [hit.doc_id for hit in new] == [second.doc_id]
        # The same bytes again change nothing.
        again = services.pipeline.ingest("schedule.md", version(2))
        assert again.status == "unchanged" and again.replaced == []


def test_two_different_files_of_one_name_in_one_run_are_both_kept(
    tmp_path: Path, local_provider: object
) -> None:
    """Two `notes.md` from different folders of one `semsearch ingest` run: neither silently
    replaces the other."""
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path)
    files = [SourceFile("schedule.md", version(1)), SourceFile("schedule.md", version(2))]
    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        outcomes = list(services.pipeline.ingest_many(files))
        documents = services.store.count({"kind": "document", "filename": "schedule.md"})
    assert [o.status for o in outcomes] == ["done", "done"]
    assert [o.replaced for o in outcomes] == [[], []]
    assert documents == 2


def test_a_search_during_the_replacement_always_finds_the_document(
    tmp_path: Path, local_provider: object
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path)
    with open_services(settings, embedder=local_provider) as services:  # type: ignore[arg-type]
        assert services.pipeline.ingest("schedule.md", version(1, paragraphs=40)).status == "done"
        replaced = threading.Event()
        misses: list[int] = []
        searches = 0

        def replace() -> None:
            try:
                services.pipeline.ingest("schedule.md", version(2, paragraphs=40))
            finally:
                replaced.set()

        writer = threading.Thread(target=replace)
        writer.start()
        while not replaced.is_set() or searches == 0:
            hits = services.search.search(
                SearchRequest("cocoa shipping schedule", mode="keyword", k=3)
            )
            searches += 1
            if not hits.results:
                misses.append(searches)
        writer.join()
        versions = services.store.count({"kind": "document", "filename": "schedule.md"})
    assert misses == [], f"{len(misses)} of {searches} searches found no document"
    assert searches > 1
    assert versions == 1


def test_chunking_settings_are_recorded_and_a_change_rechunks(
    tmp_path: Path, local_provider: object
) -> None:
    data = version(1, paragraphs=12)
    with open_services(
        Settings(SEMSEARCH_DATA_DIR=tmp_path),
        embedder=local_provider,  # type: ignore[arg-type]
    ) as services:
        first = services.pipeline.ingest("schedule.md", data)
        assert first.doc_id is not None
    smaller = Settings(
        SEMSEARCH_DATA_DIR=tmp_path, SEMSEARCH_CHUNK_TOKENS=80, SEMSEARCH_CHUNK_OVERLAP=10
    )
    with open_services(smaller, embedder=local_provider) as services:  # type: ignore[arg-type]
        again = services.pipeline.ingest("schedule.md", data)
        chunk_points = services.store.count({"doc_id": first.doc_id, "kind": "chunk"})
        recorded = services.store.scroll({"kind": "document"})
        payloads = [r.payload for r in recorded]
    assert again.status == "done" and again.chunks > first.chunks
    assert chunk_points == again.chunks
    assert [p["chunking"] for p in payloads] == [
        {"tokens": 80, "overlap": 10, "titled": 1, "running_lines_removed": 1}
    ]
