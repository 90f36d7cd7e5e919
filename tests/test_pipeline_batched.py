"""The batched ingestion path (`IngestPipeline.ingest_many`, `ingest.runner`) against the real
model and Qdrant Edge: it must store exactly what file-by-file ingestion stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings.base import EmbeddingProvider
from ingest.models import SourceFile
from tests.fake_hf import FakeHuggingFace
from web.services import Services, open_services
from web.settings import Settings

TOKEN = "hf_batched_test_token"
MODEL = "BAAI/bge-small-en-v1.5"
LONG = " ".join(
    f"Sentence {n} of the long report talks about harvest yields and grain exports."
    for n in range(60)
)
FILES: list[tuple[str, bytes]] = [
    ("wheat.txt", b"Wheat prices rose sharply after the drought in the plains."),
    ("report.txt", LONG.encode()),
    ("notes.md", b"# Notes\n\nThe central bank held interest rates steady this quarter."),
    ("oil.txt", b"Crude oil shipments fell as the pipeline was closed for repairs."),
]


def sources(files: list[tuple[str, bytes]]) -> list[SourceFile]:
    return [SourceFile(name, data) for name, data in files]


@contextmanager
def services_at(path: Path, embedder: object) -> Iterator[Services]:
    assert isinstance(embedder, EmbeddingProvider)
    with open_services(Settings(SEMSEARCH_DATA_DIR=path), embedder=embedder) as services:
        yield services


def snapshot(services: Services) -> dict[str, object]:
    """Everything ingestion decides about the stored points, minus the ingestion time."""
    chunks = sorted(
        (
            (r.id, {k: v for k, v in r.payload.items() if k != "ingested_at"})
            for r in services.store.scroll({"kind": "chunk"})
        ),
        key=lambda item: item[0],
    )
    documents = sorted(
        (
            (r.id, {k: v for k, v in r.payload.items() if k != "ingested_at"})
            for r in services.store.scroll({"kind": "document"})
        ),
        key=lambda item: item[0],
    )
    return {"count": services.store.count(), "chunks": chunks, "documents": documents}


def dense_vectors(services: Services) -> dict[str, list[float]]:
    records = services.store.scroll({"kind": "chunk"}, with_vectors=True)
    return {r.id: r.dense for r in records if r.dense is not None}


def test_many_files_store_the_same_points_as_one_by_one(
    tmp_path: Path, local_provider: object
) -> None:
    with services_at(tmp_path / "one", local_provider) as services:
        single = [services.pipeline.ingest(name, data) for name, data in FILES]
        expected, expected_vectors = snapshot(services), dense_vectors(services)
    with services_at(tmp_path / "many", local_provider) as services:
        seen: list[tuple[int, str]] = []
        batched = list(
            services.pipeline.ingest_many(
                sources(FILES),
                progress=lambda index, stage, done, total: seen.append((index, stage)),
            )
        )
        got, got_vectors = snapshot(services), dense_vectors(services)

    assert [o.status for o in batched] == ["done"] * len(FILES)
    assert batched == single
    assert next(o for o in batched if o.filename == "report.txt").chunks > 1
    assert got == expected
    assert got_vectors.keys() == expected_vectors.keys()
    for point_id, vector in got_vectors.items():
        # Edge stores float16 (search.edge_shard): batching can move a float32 component by
        # 1e-7, and that can round to the neighbouring float16, 3e-5 to 5e-4 away.
        assert np.allclose(vector, expected_vectors[point_id], atol=1e-3)
    for index in range(len(FILES)):
        stages = [stage for i, stage in seen if i == index]
        assert stages[0] == "parsing" and stages[-1] == "storing"


def test_slices_across_files_store_the_same_points(tmp_path: Path, local_provider: object) -> None:
    """Slices of 3 texts cut through the long file's chunks and mix files in one call."""
    with services_at(tmp_path / "one", local_provider) as services:
        for name, data in FILES:
            services.pipeline.ingest(name, data)
        expected = snapshot(services)
    with services_at(tmp_path / "many", local_provider) as services:
        outcomes = list(services.pipeline.ingest_many(sources(FILES), slice_size=3))
        got = snapshot(services)
    assert [o.status for o in outcomes] == ["done"] * len(FILES)
    assert got == expected


def test_a_bad_file_in_the_middle_fails_alone(tmp_path: Path, local_provider: object) -> None:
    files = [*FILES[:2], ("broken.pdf", b"this is not a PDF at all"), *FILES[2:]]
    with services_at(tmp_path, local_provider) as services:
        outcomes = list(services.pipeline.ingest_many(sources(files)))
        listed = {str(r.payload["filename"]) for r in services.store.scroll({"kind": "document"})}
        broken = services.store.count({"filename": "broken.pdf"})
    assert [o.filename for o in outcomes] == [name for name, _ in files]
    assert [o.status for o in outcomes] == ["done", "done", "failed", "done", "done"]
    assert outcomes[2].error
    assert listed == {name for name, _ in FILES}
    assert broken == 0


def test_reingesting_is_a_no_op(tmp_path: Path, local_provider: object) -> None:
    with services_at(tmp_path, local_provider) as services:
        first = list(services.pipeline.ingest_many(sources(FILES)))
        before = snapshot(services)
        again = list(services.pipeline.ingest_many(sources(FILES)))
        after = snapshot(services)
    assert [o.status for o in first] == ["done"] * len(FILES)
    assert [o.status for o in again] == ["unchanged"] * len(FILES)
    assert [o.chunks for o in again] == [o.chunks for o in first]
    assert after == before


def test_the_same_bytes_twice_in_one_run(tmp_path: Path, local_provider: object) -> None:
    with services_at(tmp_path, local_provider) as services:
        outcomes = list(services.pipeline.ingest_many(sources([FILES[0], FILES[1], FILES[0]])))
        documents = services.store.count({"kind": "document"})
    assert [o.status for o in outcomes] == ["done", "done", "unchanged"]
    assert documents == 2


def test_an_embedding_error_fails_only_the_files_in_that_slice(tmp_path: Path) -> None:
    files = [
        ("a.txt", b"Alpha: the first short file about copper."),
        ("b.txt", b"Beta: the second short file about zinc."),
        ("c.txt", b"Gamma POISON: the third short file about tin."),
        ("d.txt", b"Delta: the fourth short file about lead."),
        ("e.txt", b"Epsilon: the fifth short file about nickel."),
    ]
    with FakeHuggingFace(token=TOKEN) as hf:
        # The endpoint refuses the one request that holds the poisoned text.
        hf.refuse_texts_with = ("POISON", 400, {"error": "the endpoint refused this batch"})
        settings = Settings(
            SEMSEARCH_DATA_DIR=tmp_path,
            HF_TOKEN=TOKEN,
            EMBEDDINGS_MODEL=MODEL,
            HF_INFERENCE_BASE_URL=hf.base_url,
        )
        with open_services(settings) as services:
            outcomes = list(services.pipeline.ingest_many(sources(files), slice_size=2))
            listed = {
                str(r.payload["filename"]) for r in services.store.scroll({"kind": "document"})
            }
            orphans = services.store.count({"filename": "d.txt"})
    # slices: [a, b], [c, d], [e]
    assert [o.status for o in outcomes] == ["done", "done", "failed", "failed", "done"]
    assert "the endpoint refused this batch" in (outcomes[2].error or "")
    assert listed == {"a.txt", "b.txt", "e.txt"}
    assert orphans == 0


def test_queued_upload_jobs_each_get_their_own_outcome(
    tmp_path: Path, local_provider: object
) -> None:
    """Jobs queued together may be ingested in one run; each still reports its own result."""
    files = [*FILES[:2], ("broken.pdf", b"this is not a PDF at all"), FILES[0]]
    with services_at(tmp_path, local_provider) as services:
        jobs = [services.jobs.submit(source) for source in sources(files)]
        assert services.jobs.wait_idle(timeout=120)
        infos = [services.jobs.get(job.id) for job in jobs]
    assert all(info is not None for info in infos)
    statuses = [(info.status, info.already_indexed, info.chunks) for info in infos if info]
    assert [s[0] for s in statuses] == ["done", "done", "failed", "done"]
    assert statuses[1][2] > 1
    assert statuses[3] == ("done", True, statuses[0][2])  # the same bytes again: already indexed
    assert infos[2] is not None and infos[2].error


def test_passages_are_embedded_after_their_document_title(
    tmp_path: Path, local_provider: object
) -> None:
    """The stored vector is the model's for "title line, then passage"; the stored text, and
    what BM25 and snippets read, is the passage alone."""
    assert isinstance(local_provider, EmbeddingProvider)
    with services_at(tmp_path / "data", local_provider) as services:
        (outcome,) = services.pipeline.ingest_many(sources([FILES[2]]))
        (record,) = services.store.scroll({"kind": "chunk"}, with_vectors=True)
    text = str(record.payload["text"])
    assert outcome.title == "Notes" and not text.startswith("Notes\nNotes")
    titled, bare = local_provider.embed_documents([f"Notes\n{text}", text])
    stored = np.array(record.dense)
    assert float(stored @ np.array(titled)) > 0.999
    assert float(stored @ np.array(bare)) < 0.99
