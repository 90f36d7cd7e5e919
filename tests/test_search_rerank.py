"""Search with a reranker: the real model and Qdrant Edge retrieve, a loopback TEI fake reranks
(no cross-encoder can be installed here; the fake scores by word overlap, so the order a
working reranker gives is known). Every search says ``reranked``; a failing or misconfigured
reranker never fails a search, and its reason is in ``rerank_error``; ``rerank=false`` skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embeddings.base import EmbeddingProvider
from ingest.models import SourceFile
from tests.fake_chat import FakeChat
from tests.fake_rerank import FakeRerankServer
from web.app import create_app
from web.services import open_services
from web.settings import Settings

DOCUMENTS = {
    "harbour.txt": "The northern harbour closed in March for the winter storms.",
    "ships.txt": "Ships sailed south to the deep-water port when storms came.",
    "ice.txt": "Ice covered the harbour until April, and the port stayed shut.",
    "wheat.txt": "Wheat exports rose after the drought in the plains ended.",
    "storms.txt": "Winter storms closed roads in the north, and the harbour too.",
}
QUERY = "when did the winter storms close the northern harbour"


@pytest.fixture
def tei() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as fake:
        yield fake


def build_client(
    tmp_path: Path, local_provider: EmbeddingProvider, **env: Any
) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", EMBEDDINGS_CACHE="off", **env)
    with open_services(settings, embedder=local_provider) as services:
        files = [SourceFile(name, text.encode()) for name, text in DOCUMENTS.items()]
        assert {o.status for o in services.pipeline.ingest_many(files)} == {"done"}
    with TestClient(create_app(settings, embedder=local_provider)) as client:
        yield client


@pytest.fixture
def client(
    tmp_path: Path, local_provider: EmbeddingProvider, tei: FakeRerankServer
) -> Iterator[TestClient]:
    yield from build_client(
        tmp_path,
        local_provider,
        RERANK_ENDPOINT=f"{tei.url}/rerank",
        RERANK_TOP_N=4,
        RERANK_TIMEOUT_S=1,
    )


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", params={"q": QUERY, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_results_come_in_the_rerankers_order(client: TestClient, tei: FakeRerankServer) -> None:
    body = search(client, k=5)
    assert body["reranked"] is True
    assert body["rerank_error"] is None
    assert body["rerank_ms"] is not None
    hits = body["results"]
    # One request, with the first RERANK_TOP_N passages of the retrieval, the query as typed.
    assert len(tei.requests) == 1
    sent = tei.requests[0].json
    assert sent["query"] == QUERY
    assert len(sent["texts"]) == 4
    reranked = [h for h in hits if h["rerank_score"] is not None]
    assert len(reranked) == 4
    assert hits[:4] == reranked, "the reranked passages come first"
    scores = [h["rerank_score"] for h in reranked]
    assert scores == sorted(scores, reverse=True)
    for hit in reranked:
        assert hit["rerank_score"] == FakeRerankServer.score(QUERY, hit["text"])
    assert hits[4]["rerank_score"] is None
    # Retrieval scores are kept as they were.
    plain = {h["doc_id"]: h["score"] for h in search(client, k=5, rerank="false")["results"]}
    assert {h["doc_id"]: h["score"] for h in hits} == plain


def test_rerank_false_skips_the_reranker(client: TestClient, tei: FakeRerankServer) -> None:
    body = search(client, rerank="false")
    assert body["reranked"] is False
    assert body["rerank_error"] is None
    assert all(h["rerank_score"] is None for h in body["results"])
    assert tei.requests == []
    posted = client.post("/api/search", json={"q": QUERY, "rerank": False}).json()
    assert posted["reranked"] is False
    assert tei.requests == []


@pytest.mark.parametrize("failure", ["server error", "not a reranker", "malformed", "slow"])
def test_a_failing_reranker_never_fails_the_search(
    client: TestClient, tei: FakeRerankServer, failure: str
) -> None:
    expected = [h["doc_id"] for h in search(client, rerank="false")["results"]]
    if failure == "server error":
        tei.fail_next(500, {"error": "CUDA out of memory", "error_type": "Backend"}, times=5)
        reason = "CUDA out of memory"
    elif failure == "not a reranker":
        tei.model_type = "embedding"
        reason = "not a re-ranker"
    elif failure == "malformed":
        tei.answer_next({"unexpected": True})
        reason = "not rerank scores"
    else:
        tei.delay_s = 3.0  # past RERANK_TIMEOUT_S; the search waits no longer than that
        reason = "no answer within"
    body = search(client)
    assert body["reranked"] is False
    assert reason in body["rerank_error"]
    assert [h["doc_id"] for h in body["results"]] == expected, "retrieval order, unchanged"
    assert all(h["rerank_score"] is None for h in body["results"])


def test_flat_pages_are_cut_from_the_reranked_list(client: TestClient) -> None:
    whole = search(client, group="false", k=4)
    assert whole["reranked"] is True
    page = search(client, group="false", k=2, offset=1)
    assert page["reranked"] is True
    assert [h["point_id"] for h in page["results"]] == [
        h["point_id"] for h in whole["results"][1:3]
    ]


def test_passages_under_the_threshold_are_never_sent(
    client: TestClient, tei: FakeRerankServer
) -> None:
    scores = [h["score"] for h in search(client, mode="dense", rerank="false")["results"]]
    threshold = scores[1] - 1e-5  # keeps the best two passages (scores are shown rounded)
    body = search(client, mode="dense", score_threshold=threshold)
    assert body["reranked"] is True
    assert len(tei.requests[-1].json["texts"]) == 2
    assert len(body["results"]) == 2


def test_diversified_searches_are_reranked_too(client: TestClient) -> None:
    body = search(client, diversify="true", k=3)
    assert body["reranked"] is True
    assert len(body["results"]) == 3


def test_the_page_says_reranked_or_why_not(client: TestClient, tei: FakeRerankServer) -> None:
    page = client.get("/", params={"q": QUERY})
    assert ", reranked</p>" in page.text
    assert 'id="rerank-error"' not in page.text
    tei.fail_next(400, {"error": "bad pairs", "error_type": "Validation"})
    page = client.get("/", params={"q": QUERY})
    assert 'id="rerank-error"' in page.text
    assert "bad pairs" in page.text
    assert "retrieval order" in page.text


def test_settings_show_and_check_the_reranker(client: TestClient, tei: FakeRerankServer) -> None:
    config = client.get("/api/settings/rerank").json()
    assert config["provider"] == "endpoint"
    assert config["reason"] == "RERANK_ENDPOINT is set"
    assert config["top_n"] == 4
    assert config["error"] is None
    check = client.post("/api/rerank/check").json()
    assert check["ok"] is True
    assert check["scores"][0] > check["scores"][1], "the answering probe passage scores higher"
    assert tei.requests[-1].json["texts"][0].startswith("semsearch finds")
    page = client.get("/settings")
    assert 'id="rerank-settings"' in page.text
    assert "RERANK_ENDPOINT is set" in page.text
    tei.model_type = "embedding"
    check = client.post("/api/rerank/check").json()
    assert check["ok"] is False
    assert "not a re-ranker" in check["error"]


def test_a_reranker_that_cannot_be_opened_is_reported_by_every_search(
    tmp_path: Path, local_provider: EmbeddingProvider
) -> None:
    for client in build_client(tmp_path, local_provider, RERANK_PROVIDER="local"):
        body = search(client)
        assert body["results"], "search works without the reranker"
        assert body["reranked"] is False
        assert "RERANK_MODEL is blank" in body["rerank_error"]
        assert search(client, rerank="false")["rerank_error"] is None
        config = client.get("/api/settings/rerank").json()
        assert "RERANK_MODEL is blank" in config["error"]
        check = client.post("/api/rerank/check").json()
        assert check["ok"] is False and "RERANK_MODEL" in check["error"]


def test_without_a_reranker_nothing_changes(
    tmp_path: Path, local_provider: EmbeddingProvider
) -> None:
    for client in build_client(tmp_path, local_provider):
        body = search(client)
        assert body["reranked"] is False
        assert body["rerank_error"] is None
        assert body["rerank_ms"] is None
        assert client.get("/api/settings/rerank").json()["provider"] == "none"
        assert client.post("/api/rerank/check").json()["ok"] is True


def test_answers_say_whether_their_sources_were_reranked(
    tmp_path: Path, local_provider: EmbeddingProvider, tei: FakeRerankServer
) -> None:
    token, model = "hf_rerankANSWER0123456789", "meta-llama/Llama-3.1-8B-Instruct"
    with FakeChat(token=token, known_models={model}) as chat:
        for client in build_client(
            tmp_path,
            local_provider,
            RERANK_ENDPOINT=f"{tei.url}/rerank",
            RERANK_TIMEOUT_S=1,
            HF_TOKEN=token,
            EMBEDDINGS_PROVIDER="local",
            GENERATION_MODEL=model,
            HF_ROUTER_URL=chat.url,
        ):
            whole = client.post("/api/answer", json={"q": QUERY}).json()
            assert whole["status"] == "answered"
            assert whole["reranked"] is True and whole["rerank_error"] is None
            tei.fail_next(400, {"error": "bad pairs", "error_type": "Validation"})
            failed = client.post("/api/answer", json={"q": QUERY}).json()
            assert failed["status"] == "answered", "the answer does not fail with the reranker"
            assert failed["reranked"] is False
            assert "bad pairs" in failed["rerank_error"]
            tei.fail_next(400, {"error": "bad pairs", "error_type": "Validation"})
            streamed = client.post("/api/answer", json={"q": QUERY, "stream": True})
            first = next(line for line in streamed.text.splitlines() if line.startswith("data: "))
            assert '"reranked":false' in first.replace(" ", "")
            assert "bad pairs" in first
