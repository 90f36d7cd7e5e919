"""The vector cache: what reaches the server (FakeHuggingFace) when texts were seen before."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from embeddings.base import Vector
from embeddings.cache import CachedProvider, VectorCache, unwrap, with_cache
from embeddings.check import check_connection
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from tests.apphelpers import wait_for_job
from tests.fake_hf import FakeHuggingFace, RecordedRequest
from tests.remote_support import FAST, MODEL, TOKEN, hf_settings
from web.app import create_app
from web.settings import Settings


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[VectorCache]:
    opened = VectorCache(tmp_path / "embeddings-cache.sqlite")
    yield opened
    opened.close()


def cached(server: FakeHuggingFace, cache: VectorCache, **overrides: object) -> CachedProvider:
    inner = HFInferenceProvider(hf_settings(server, **overrides), retry=FAST)
    return CachedProvider(inner, cache)


def sent(requests: Sequence[RecordedRequest]) -> list[str]:
    return [text for r in requests for text in r.inputs]


def assert_vectors(got: list[Vector], texts: list[str]) -> None:
    """Looser than the provider tests' check: the cache stores float32."""
    assert len(got) == len(texts)
    for vector, text in zip(got, texts, strict=True):
        assert vector == pytest.approx(FakeHuggingFace.vector_for(text), abs=1e-6)


TEXTS = [f"chunk number {i} about vectors" for i in range(6)]


def test_a_second_embedding_of_the_same_texts_sends_nothing(
    hf: FakeHuggingFace, cache: VectorCache
) -> None:
    p = cached(hf, cache)
    try:
        first = p.embed_documents(TEXTS)
        assert sent(hf.requests) == TEXTS
        second = p.embed_documents(TEXTS)
    finally:
        p.close()
    assert sent(hf.requests) == TEXTS  # nothing more
    assert first == second
    assert_vectors(second, TEXTS)
    assert len(cache) == len(TEXTS)


def test_only_changed_texts_are_sent_and_order_is_kept(
    hf: FakeHuggingFace, cache: VectorCache
) -> None:
    p = cached(hf, cache)
    edited = [*TEXTS]
    edited[1] = "chunk number 1, rewritten"
    edited[4] = "chunk number 4, rewritten"
    try:
        p.embed_documents(TEXTS)
        before = len(hf.requests)
        vectors = p.embed_documents([*edited, edited[1]])  # a duplicate is embedded once
    finally:
        p.close()
    assert sent(hf.requests[before:]) == [edited[1], edited[4]]
    assert_vectors(vectors, [*edited, edited[1]])


def test_another_model_or_prompt_never_hits(hf: FakeHuggingFace, cache: VectorCache) -> None:
    providers = [
        cached(hf, cache),
        cached(hf, cache, model="BAAI/bge-small-en-v1.5"),  # another model
        cached(hf, cache, document_prompt="passage: "),  # another prompt
        # Another server URL (here the same server under another name).
        cached(hf, cache, hf_inference_base_url=hf.base_url.replace("127.0.0.1", "localhost")),
    ]
    try:
        for p in providers:
            before = len(hf.requests)
            p.embed_documents(TEXTS[:2])
            assert len(sent(hf.requests[before:])) == 2
        providers[0].embed_documents(TEXTS[:2])
        providers[2].embed_documents(TEXTS[:2])
    finally:
        for p in providers:
            p.close()
    assert len(sent(hf.requests)) == 8  # the last two calls were hits
    assert len(cache) == 8


def test_queries_are_not_cached(hf: FakeHuggingFace, cache: VectorCache) -> None:
    p = cached(hf, cache)
    try:
        p.embed_query("what about vectors")
        p.embed_query("what about vectors")
    finally:
        p.close()
    assert len(hf.requests) == 2 and len(cache) == 0


def test_the_cache_survives_reopening_the_file(hf: FakeHuggingFace, tmp_path: Path) -> None:
    path = tmp_path / "embeddings-cache.sqlite"
    first_cache = VectorCache(path)
    p = cached(hf, first_cache)
    try:
        vectors = p.embed_documents(TEXTS)
    finally:
        p.close()
        first_cache.close()
    reopened = VectorCache(path)
    p = cached(hf, reopened)
    try:
        again = p.embed_documents(TEXTS)
    finally:
        p.close()
        reopened.close()
    assert len(hf.requests) == 1
    assert again == vectors


def test_threads_share_one_cache(hf: FakeHuggingFace, cache: VectorCache) -> None:
    p = cached(hf, cache)
    jobs = [[f"text {(t * 7 + i) % 30}" for i in range(20)] for t in range(8)]
    results: dict[int, list[Vector]] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = p.embed_documents(jobs[index])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        p.close()
    assert not errors
    for index, texts in enumerate(jobs):
        assert_vectors(results[index], texts)
    assert len(cache) == 30


def test_an_unreadable_file_is_set_aside(hf: FakeHuggingFace, tmp_path: Path) -> None:
    path = tmp_path / "embeddings-cache.sqlite"
    path.write_bytes(b"this is not a SQLite database" * 100)
    fresh = VectorCache(path)
    p = cached(hf, fresh)
    try:
        assert_vectors(p.embed_documents(TEXTS[:2]), TEXTS[:2])
        assert len(fresh) == 2
    finally:
        p.close()
        fresh.close()
    assert any(f.name.startswith("embeddings-cache.sqlite.unreadable-") for f in tmp_path.iterdir())


class Opaque:
    """A provider that cannot say what decides its vectors."""

    name = "opaque"
    model_id = "opaque"
    dimension = 2

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return [[1.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> Vector:
        return [1.0, 0.0]

    def close(self) -> None:
        pass


def test_wrapping_rules(hf: FakeHuggingFace, cache: VectorCache) -> None:
    opaque = Opaque()
    assert with_cache(opaque, cache) is opaque  # never cache what might come from elsewhere
    p = cached(hf, cache)
    try:
        assert with_cache(p, cache) is p and unwrap(p) is p.inner
        assert (p.name, p.model_id) == ("hf-inference", MODEL)
        settings = EmbeddingSettings(
            model=MODEL, token=SecretStr(TOKEN), hf_inference_base_url=hf.base_url
        )
        check_connection(p, settings)
        check_connection(p, settings)
    finally:
        p.close()
    assert len(hf.requests) == 2  # a connection check always asks the server


# -- the app: re-ingesting an edited document ---------------------------------------------------

SECTIONS = [
    ("Dense vectors", "Dense vectors capture meaning from a neural encoder."),
    ("Sparse vectors", "Sparse vectors weigh exact terms with BM25 statistics."),
    ("Hybrid search", "Hybrid search fuses both rankings with reciprocal rank fusion."),
    ("Clustering", "Clustering groups documents by the mean of their chunk vectors."),
    ("Snippets", "Snippets show the best passage of each document with its page."),
    ("Storage", "Storage keeps one point per chunk and one per document."),
]


def markdown(sections: list[tuple[str, str]]) -> bytes:
    return "\n\n".join(f"## {title}\n\n{body}" for title, body in sections).encode()


def upload(client: TestClient, name: str, content: bytes) -> dict[str, object]:
    response = client.post("/api/documents", files=[("files", (name, content))])
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    done = wait_for_job(client, job["id"])
    assert done["status"] == "done", done
    return done


def app_settings(tmp_path: Path, hf: FakeHuggingFace, **extra: object) -> Settings:
    return Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        EMBEDDINGS_MODEL=MODEL,
        HF_INFERENCE_BASE_URL=hf.base_url,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.slow
def test_reingesting_an_edited_document_sends_only_the_changed_chunks(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    edited = [*SECTIONS]
    edited[2] = ("Hybrid search", "Hybrid search now fuses three rankings, not two.")
    edited[5] = ("Storage", "Storage keeps vectors on disk with a write-ahead log.")
    with TestClient(create_app(app_settings(tmp_path, hf))) as client:
        first = upload(client, "notes.md", markdown(SECTIONS))
        first_inputs = sent(hf.requests)
        assert sum(SECTIONS[0][1] in text for text in first_inputs) == 1
        assert client.delete(f"/api/documents/{first['doc_id']}").status_code == 200
        before = len(hf.requests)
        upload(client, "notes.md", markdown(edited))
        second_inputs = sent(hf.requests[before:])
    assert len(second_inputs) == 2
    assert edited[2][1] in second_inputs[0] and edited[5][1] in second_inputs[1]
    assert (tmp_path / "embeddings-cache.sqlite").is_file()


@pytest.mark.slow
def test_the_app_cache_survives_a_restart_and_can_be_turned_off(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    content = markdown(SECTIONS)
    with TestClient(create_app(app_settings(tmp_path, hf))) as client:
        done = upload(client, "notes.md", content)
        client.delete(f"/api/documents/{done['doc_id']}")
    before = len(hf.requests)
    with TestClient(create_app(app_settings(tmp_path, hf))) as client:
        done = upload(client, "notes.md", content)
        client.delete(f"/api/documents/{done['doc_id']}")
    # A new process probes the dimension once; not one chunk is sent again.
    assert sent(hf.requests[before:]) == ["dimension probe"]
    before = len(hf.requests)
    with TestClient(create_app(app_settings(tmp_path, hf, EMBEDDINGS_CACHE="off"))) as client:
        upload(client, "notes.md", content)
    assert len(sent(hf.requests[before:])) == 1 + len(SECTIONS)
