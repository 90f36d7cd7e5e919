"""The local reranker (a sentence-transformers CrossEncoder from a folder) and
``semsearch embeddings serve``'s ``/rerank``, which answers TEI's wire format with it.

No trained cross-encoder can be installed here, so the model is a real CrossEncoder built from
the bundled MiniLM with a fresh one-label head, saved to a folder once and loaded from it as a
user's would be: its scores mean nothing, but every code path (loading, scoring, serving, the
endpoint client reading the server) is the real one, and the scores must agree exactly across
them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from embeddings.base import EmbeddingProvider
from embeddings.errors import EmbeddingConfigError, EmbeddingUnavailableError
from embeddings.local import bundled_model_path
from embeddings.rerank import RerankSettings, build_reranker
from embeddings.rerank_local import LocalReranker
from embeddings.rerank_remote import EndpointReranker
from embeddings.server import create_embeddings_app
from embeddings.threaded import serve_in_thread
from ingest.models import SourceFile
from search.request import SearchRequest
from web.services import open_services
from web.settings import Settings

pytestmark = pytest.mark.slow

QUERY = "when did the harbour close"
TEXTS = ["The harbour closed in March.", "Wheat exports rose.", "Ships went south."]


@pytest.fixture(scope="module")
def cross_encoder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sentence_transformers import CrossEncoder

    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(bundled_model_path()), num_labels=1).save(str(folder))
    return folder


@pytest.fixture(scope="module")
def local_reranker(cross_encoder_folder: Path) -> Iterator[LocalReranker]:
    reranker = build_reranker(RerankSettings(provider="local", model=str(cross_encoder_folder)))
    assert isinstance(reranker, LocalReranker)
    yield reranker
    reranker.close()


def test_the_local_reranker_scores_each_pair(local_reranker: LocalReranker) -> None:
    scores = local_reranker.rerank(QUERY, TEXTS)
    assert len(scores) == 3
    assert all(0.0 <= s <= 1.0 for s in scores), "one-label models score through a sigmoid"
    assert local_reranker.rerank(QUERY, TEXTS) == scores, "deterministic"
    # Each pair is scored on its own: another batch changes only the padding's float noise.
    alone = local_reranker.rerank(QUERY, TEXTS[1:])
    assert alone == pytest.approx(scores[1:], abs=1e-6), "each pair on its own"
    assert local_reranker.rerank(QUERY, []) == []


def test_a_folder_that_is_no_model_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingConfigError) as caught:
        LocalReranker(str(tmp_path))
    assert caught.value.setting == "RERANK_MODEL"


def test_embeddings_serve_answers_tei_rerank_with_it(
    local_provider: EmbeddingProvider, local_reranker: LocalReranker
) -> None:
    app = create_embeddings_app(local_provider, max_client_batch_size=2, reranker=local_reranker)
    with serve_in_thread(app) as url:
        raw = httpx.post(f"{url}/rerank", json={"query": QUERY, "texts": TEXTS})
        assert raw.status_code == 422  # TEI's status for it since 1.9 (413 before)
        assert "maximum allowed batch size 2" in raw.json()["error"]
        answer = httpx.post(f"{url}/rerank", json={"query": QUERY, "texts": TEXTS[:2]}).json()
        assert [r["index"] for r in answer] == sorted(
            range(2), key=lambda i: -local_reranker.rerank(QUERY, TEXTS[:2])[i]
        )
        empty = httpx.post(f"{url}/rerank", json={"query": QUERY, "texts": []})
        assert empty.status_code == 400
        assert empty.json() == {"error": "`texts` cannot be empty", "error_type": "Empty"}
        # The endpoint client reads /info's limit (batches of 2) and gets the local scores:
        # within 1e-6, as a pair scored in a smaller batch differs by float noise (padding).
        client = EndpointReranker(RerankSettings(endpoint=f"{url}/rerank"))
        expected = local_reranker.rerank(QUERY, TEXTS)
        assert client.rerank(QUERY, TEXTS) == pytest.approx(expected, abs=1e-6)
        client.close()


def test_a_server_without_a_reranker_answers_as_tei_does(local_provider: EmbeddingProvider) -> None:
    with serve_in_thread(create_embeddings_app(local_provider)) as url:
        raw = httpx.post(f"{url}/rerank", json={"query": QUERY, "texts": TEXTS})
        assert raw.status_code == 424
        assert raw.json() == {"error": "model is not a re-ranker model", "error_type": "Backend"}
        client = EndpointReranker(RerankSettings(endpoint=f"{url}/rerank"))
        with pytest.raises(EmbeddingUnavailableError, match="not a re-ranker"):
            client.rerank(QUERY, TEXTS)
        client.close()


def test_search_with_the_local_reranker(
    tmp_path: Path, local_provider: EmbeddingProvider, cross_encoder_folder: Path
) -> None:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path / "data",
        EMBEDDINGS_CACHE="off",
        RERANK_PROVIDER="local",
        RERANK_MODEL=str(cross_encoder_folder),
    )
    with open_services(settings, embedder=local_provider) as services:
        files = [SourceFile(f"{i}.txt", text.encode()) for i, text in enumerate(TEXTS)]
        assert {o.status for o in services.pipeline.ingest_many(files)} == {"done"}
    with open_services(settings, embedder=local_provider) as services:
        response = services.search.search(SearchRequest(QUERY, group=False))
        assert response.reranked is True
        scores = [hit.rerank_score for hit in response.results]
        assert None not in scores
        assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
