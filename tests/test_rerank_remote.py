"""The endpoint reranker against a loopback TEI (and Cohere/Jina) fake: the exact wire format,
batches within ``/info``'s limits, retries by error class, errors naming the setting, and every
answer checked. No cross-encoder can be installed here, so the fake scores by word overlap;
what is tested is the wire and the handling, not a model's quality."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingResponseError,
    EmbeddingUnavailableError,
)
from embeddings.rerank import RerankSettings, build_reranker, resolve_rerank_provider
from embeddings.rerank_remote import EndpointReranker
from inference.retry import RetryPolicy
from tests.fake_rerank import FakeRerankServer

QUERY = "when did the harbour close"
TEXTS = [
    "Wheat exports rose this year.",
    "The harbour is in the north.",
    "When did the harbour close? In March.",
]
FAST = RetryPolicy(max_attempts=3, max_retry_wait_s=0.05, backoff_base_s=0.01, deadline_s=5)


@pytest.fixture
def tei() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as fake:
        yield fake


def reranker(url: str, **settings: object) -> EndpointReranker:
    return EndpointReranker(RerankSettings(endpoint=url, **settings), retry=FAST)  # type: ignore[arg-type]


def expected(texts: list[str]) -> list[float]:
    return [FakeRerankServer.score(QUERY, text) for text in texts]


def test_tei_wire_format_and_scores_in_the_order_sent(tei: FakeRerankServer) -> None:
    client = reranker(f"{tei.url}/rerank")
    scores = client.rerank(QUERY, TEXTS)
    # The fake answers sorted by score (as TEI does); the client puts them back in order.
    assert scores == expected(TEXTS)
    assert scores[2] > scores[1] > scores[0]
    assert [call.json for call in tei.requests] == [
        {"query": QUERY, "texts": TEXTS, "raw_scores": False, "truncate": True}
    ]
    assert tei.requests[0].path == "/rerank"
    assert tei.info_requests == 1
    client.rerank(QUERY, TEXTS)
    assert tei.info_requests == 1, "/info is asked once"


def test_an_inference_endpoint_root_is_posted_as_is(tei: FakeRerankServer) -> None:
    assert reranker(tei.url).rerank(QUERY, TEXTS) == expected(TEXTS)
    assert tei.requests[0].path == "/"


def test_batches_stay_within_max_client_batch_size(tei: FakeRerankServer) -> None:
    tei.max_client_batch_size = 16
    texts = [f"passage {i} about the harbour" if i % 3 else f"passage {i}" for i in range(40)]
    assert reranker(f"{tei.url}/rerank").rerank(QUERY, texts) == expected(texts)
    # Batches go side by side (up to 4 at once), so they may arrive in any order.
    assert sorted(len(t) for t in tei.texts_sent()) == [8, 16, 16]
    assert sorted(t for part in tei.texts_sent() for t in part) == sorted(texts)


@pytest.mark.parametrize("status", [422, 413])
def test_a_batch_size_refusal_splits_the_batch_and_is_remembered(
    tei: FakeRerankServer, status: int
) -> None:
    """Without ``/info`` the limit is learned from TEI's refusal (422 since TEI 1.9, 413
    before), and later searches use it from the start."""
    tei.info = False
    tei.max_client_batch_size = 10
    tei.batch_limit_status = status
    client = reranker(f"{tei.url}/rerank")
    texts = [f"text {i} harbour" for i in range(25)]
    assert client.rerank(QUERY, texts) == expected(texts)
    assert [len(t) for t in tei.texts_sent()] == [25, 10, 10, 5]
    tei.requests.clear()
    assert client.rerank(QUERY, texts) == expected(texts)
    assert sorted(len(t) for t in tei.texts_sent()) == [5, 10, 10]


@pytest.mark.parametrize("status", [429, 503, 500, 502])
def test_transient_statuses_are_retried(tei: FakeRerankServer, status: int) -> None:
    tei.fail_next(status, {"error": "Model is overloaded", "error_type": "Overloaded"})
    assert reranker(f"{tei.url}/rerank").rerank(QUERY, TEXTS) == expected(TEXTS)
    assert len(tei.requests) == 2


@pytest.mark.parametrize(
    ("status", "setting"),
    [(400, None), (401, "HF_TOKEN"), (403, "HF_TOKEN"), (404, "RERANK_ENDPOINT")],
)
def test_other_4xx_are_never_retried(
    tei: FakeRerankServer, status: int, setting: str | None
) -> None:
    tei.fail_next(status, {"error": "refused", "error_type": "Validation"}, times=3)
    with pytest.raises(EmbeddingError) as caught:
        reranker(f"{tei.url}/rerank").rerank(QUERY, TEXTS)
    assert len(tei.requests) == 1
    assert caught.value.setting == setting
    assert f"HTTP {status}" in caught.value.message


def test_retries_that_run_out_say_so(tei: FakeRerankServer) -> None:
    tei.fail_next(503, {"error": "Service Unavailable"}, times=5)
    with pytest.raises(EmbeddingUnavailableError, match="still failing after 3 attempts"):
        reranker(f"{tei.url}/rerank").rerank(QUERY, TEXTS)
    assert len(tei.requests) == 3


def test_an_embedding_model_is_refused_at_once_naming_the_setting(
    tei: FakeRerankServer,
) -> None:
    """TEI's 424 here means "not a re-ranker", not "still loading": no retry."""
    tei.model_type = "embedding"
    with pytest.raises(EmbeddingUnavailableError) as caught:
        reranker(f"{tei.url}/rerank").rerank(QUERY, TEXTS)
    assert len(tei.requests) == 1
    assert caught.value.setting == "RERANK_ENDPOINT"
    assert "not a re-ranker" in caught.value.message
    assert "HTTP 424" in caught.value.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"scores": [1, 2, 3]}, "not rerank scores"),
        ([{"index": 0, "score": 0.5}], "scored 1 of the 3"),
        ([{"index": 0, "score": 0.5}, {"index": 1}], "a number"),
        ([{"index": 0, "score": 1}, {"index": 0, "score": 1}, {"index": 2, "score": 1}], "twice"),
        ([{"index": 3, "score": 1}], "an index from 0 to 2"),
        ([{"index": True, "score": 1}], "an index"),
        ([{"index": 0, "score": "high"}], "a number"),
    ],
)
def test_answers_that_are_not_scores_are_errors(
    tei: FakeRerankServer, answer: object, words: str
) -> None:
    tei.answer_next(answer)
    with pytest.raises(EmbeddingResponseError, match=words) as caught:
        reranker(f"{tei.url}/rerank").rerank(QUERY, TEXTS)
    assert caught.value.setting == "RERANK_ENDPOINT"


def test_cohere_and_jina_style_v1_rerank(tei: FakeRerankServer) -> None:
    client = reranker(f"{tei.url}/v1/rerank", model="jina-reranker-v2-base-multilingual")
    assert client.rerank(QUERY, TEXTS) == expected(TEXTS)
    assert tei.requests[0].json == {
        "model": "jina-reranker-v2-base-multilingual",
        "query": QUERY,
        "documents": TEXTS,
        "top_n": 3,
    }
    assert tei.info_requests == 0, "a /v1/rerank service has no TEI /info"


def test_a_v1_rerank_service_needs_the_model() -> None:
    with pytest.raises(EmbeddingConfigError) as caught:
        EndpointReranker(RerankSettings(endpoint="http://127.0.0.1:9/v1/rerank"))
    assert caught.value.setting == "RERANK_MODEL"


def test_the_token_is_sent_and_never_shown() -> None:
    token = "hf_rerankSECRET0123456789"
    with FakeRerankServer(token=token) as fake:
        good = reranker(f"{fake.url}/rerank", token=SecretStr(token), token_setting="RERANK_TOKEN")
        assert good.rerank(QUERY, TEXTS) == expected(TEXTS)
        assert fake.requests[0].headers["authorization"] == f"Bearer {token}"
        wrong = "hf_wrongSECRET9876543210"
        bad = reranker(f"{fake.url}/rerank", token=SecretStr(wrong), token_setting="RERANK_TOKEN")
        fake.fail_next(401, {"error": f"token {wrong} is invalid"})
        with pytest.raises(EmbeddingUnavailableError) as caught:
            bad.rerank(QUERY, TEXTS)
    assert caught.value.setting == "RERANK_TOKEN"
    assert wrong not in caught.value.message


def test_a_server_that_does_not_answer_in_time_is_an_error(tei: FakeRerankServer) -> None:
    tei.delay_s = 1.0
    client = EndpointReranker(
        RerankSettings(endpoint=f"{tei.url}/rerank", timeout_s=0.2),
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, deadline_s=0.3),
    )
    with pytest.raises(EmbeddingUnavailableError, match=r"no answer within 0\.2 s"):
        client.rerank(QUERY, TEXTS)


def test_an_unreachable_server_names_the_setting() -> None:
    with FakeRerankServer() as fake:
        url = f"{fake.url}/rerank"
    with pytest.raises(EmbeddingUnavailableError, match="cannot reach") as caught:
        reranker(url).rerank(QUERY, TEXTS)
    assert caught.value.setting == "RERANK_ENDPOINT"


def test_no_texts_no_request(tei: FakeRerankServer) -> None:
    assert reranker(f"{tei.url}/rerank").rerank(QUERY, []) == []
    assert tei.requests == []


def test_the_provider_is_explicit_or_inferred_from_the_endpoint() -> None:
    assert resolve_rerank_provider(RerankSettings())[0] == "none"
    assert resolve_rerank_provider(RerankSettings(endpoint="http://h/rerank"))[0] == "endpoint"
    assert resolve_rerank_provider(RerankSettings(provider="None", endpoint="http://h"))[0] == (
        "none"
    )
    assert build_reranker(RerankSettings()) is None
    with pytest.raises(EmbeddingConfigError) as unknown:
        resolve_rerank_provider(RerankSettings(provider="cohere"))
    assert unknown.value.setting == "RERANK_PROVIDER"
    with pytest.raises(EmbeddingConfigError) as no_model:
        build_reranker(RerankSettings(provider="local"))
    assert no_model.value.setting == "RERANK_MODEL"
    with pytest.raises(EmbeddingConfigError) as no_url:
        build_reranker(RerankSettings(provider="endpoint"))
    assert no_url.value.setting == "RERANK_ENDPOINT"
    with pytest.raises(EmbeddingConfigError) as bad_url:
        build_reranker(RerankSettings(endpoint="ftp://h/rerank"))
    assert bad_url.value.setting == "RERANK_ENDPOINT"
