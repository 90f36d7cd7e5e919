"""TEI ``/info``, token budgets and over-long texts, against FakeHuggingFace (a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from embeddings.batching import batches, cut_to_fit, cut_to_tokens, estimate_tokens
from embeddings.errors import EmbeddingServiceError
from embeddings.remote import EndpointProvider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from embeddings.tei_info import info_url, parse_info
from inference.retry import RetryPolicy
from tests.fake_hf import FakeHuggingFace

FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.01, max_retry_wait_s=1.0, deadline_s=10.0)
TOKEN = "hf_infoTOKEN0123456789"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def endpoint(
    server: FakeHuggingFace, route: str = "/embed", **overrides: object
) -> EndpointProvider:
    values: dict[str, object] = {
        "endpoint": f"{server.url}{route}",
        "token": SecretStr(TOKEN),
        "connect_timeout_s": 2.0,
        "read_timeout_s": 5.0,
    }
    values.update(overrides)
    return EndpointProvider(EmbeddingSettings(**values), retry=FAST)  # type: ignore[arg-type]


@pytest.fixture
def tei() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN) as server:
        yield server


def words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


# -- /info -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/embed", "http://127.0.0.1:8080/info"),
        ("http://127.0.0.1:8080/embed/", "http://127.0.0.1:8080/info"),
        ("http://tei:80/v1/embeddings", "http://tei:80/info"),
        (
            "https://x.us-east-1.aws.endpoints.huggingface.cloud",
            "https://x.us-east-1.aws.endpoints.huggingface.cloud/info",
        ),
        ("https://host/prefix/embed?x=1", "https://host/prefix/info"),
    ],
)
def test_info_url_is_beside_the_embedding_route(url: str, expected: str) -> None:
    assert info_url(url) == expected


def test_parse_info_accepts_tei_and_nothing_else() -> None:
    info = parse_info(FakeHuggingFace.tei_info(max_client_batch_size=8, auto_truncate=True))
    assert info is not None
    assert (info.max_client_batch_size, info.max_batch_tokens, info.max_input_length) == (
        8,
        16384,
        512,
    )
    assert info.auto_truncate is True and info.model_id == MODEL
    for body in ({"error": "Not Found"}, {"status": "ok"}, [1, 2], "Not Found", None):
        assert parse_info(body) is None


def test_info_caps_the_batch_size(tei: FakeHuggingFace) -> None:
    tei.info = FakeHuggingFace.tei_info(max_client_batch_size=8)
    p = endpoint(tei, batch_size=64)
    try:
        texts = [f"text {i}" for i in range(40)]
        vectors = p.embed_documents(texts)
        p.embed_documents(["one more"])
    finally:
        p.close()
    assert len(vectors) == 40
    sizes = [len(r.inputs) for r in tei.requests]
    assert max(sizes) <= 8, sizes  # never a refused oversized batch: no 413 round trips
    assert sum(sizes) == 41 and len(sizes) == 6
    assert len(tei.info_requests) == 1  # asked once, on first use
    assert tei.info_requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_info_caps_the_tokens_per_request(tei: FakeHuggingFace) -> None:
    tei.info = FakeHuggingFace.tei_info(max_client_batch_size=32, max_batch_tokens=60)
    p = endpoint(tei)
    texts = [words(8, f"t{i}x") for i in range(12)]
    try:
        p.embed_documents(texts)
    finally:
        p.close()
    assert len(tei.requests) > 1
    for request in tei.requests:
        assert sum(estimate_tokens(t) for t in request.inputs) <= 60
    # Batches go out side by side, so their arrival order is free; every text is sent once.
    assert sorted(t for r in tei.requests for t in r.inputs) == sorted(texts)


@pytest.mark.parametrize("answer", [None, {"status": "ok", "model": "custom handler"}])
def test_an_endpoint_without_tei_works_as_before(
    tei: FakeHuggingFace, answer: dict[str, str] | None
) -> None:
    tei.info = answer  # None: 404, as an Inference Endpoint without TEI answers
    p = endpoint(tei)
    try:
        p.embed_documents([f"t{i}" for i in range(40)])
    finally:
        p.close()
    assert sorted(len(r.inputs) for r in tei.requests) == [8, 32]
    assert len(tei.info_requests) == 1


# -- over-long texts ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [413, 422])
def test_a_too_long_text_is_retried_once_with_truncate(tei: FakeHuggingFace, status: int) -> None:
    tei.max_input_tokens = 20
    tei.token_limit_status = status
    p = endpoint(tei)
    texts = ["short one", words(40)]
    try:
        vectors = p.embed_documents(texts)
        p.embed_documents(["later", words(30, "z")])
    finally:
        p.close()
    assert len(vectors) == 2
    first, retry, later = tei.requests
    assert "truncate" not in first.json
    assert retry.json["truncate"] is True and retry.inputs == texts  # the same texts, once
    assert later.json["truncate"] is True  # learned: no second refusal


def test_info_max_input_length_asks_for_truncation_up_front(tei: FakeHuggingFace) -> None:
    tei.info = FakeHuggingFace.tei_info(max_input_length=20)
    tei.max_input_tokens = 20
    p = endpoint(tei)
    try:
        p.embed_documents(["short"])
        p.embed_documents(["short", words(40)])
    finally:
        p.close()
    short, long = tei.requests
    assert "truncate" not in short.json  # nothing needed it
    assert long.json["truncate"] is True  # no refusal, no retry


def test_auto_truncate_servers_need_no_truncate_field(tei: FakeHuggingFace) -> None:
    tei.info = FakeHuggingFace.tei_info(max_input_length=20, auto_truncate=True)
    tei.max_input_tokens = 20
    p = endpoint(tei)
    try:
        p.embed_documents([words(40)])
    finally:
        p.close()
    [request] = tei.requests
    assert "truncate" not in request.json


def tei_token_error(limit: int, given: int) -> dict[str, str]:
    return {
        "error": f"Input validation error: `inputs` must have less than {limit} tokens. "
        f"Given: {given}",
        "error_type": "Validation",
    }


def test_still_refused_with_truncate_cuts_client_side_then_stops(tei: FakeHuggingFace) -> None:
    p = endpoint(tei)
    long = words(200)
    tei.fail_next(413, tei_token_error(128, 202))
    tei.fail_next(413, tei_token_error(128, 202))
    try:
        vectors = p.embed_documents(["short", long])
    finally:
        p.close()
    assert len(vectors) == 2
    first, truncated, cut = tei.requests
    assert "truncate" not in first.json and truncated.json["truncate"] is True
    assert cut.inputs[0] == "short"
    assert long.startswith(cut.inputs[1]) and estimate_tokens(cut.inputs[1]) <= 128
    assert vectors[1] == pytest.approx(FakeHuggingFace.vector_for(cut.inputs[1]))


def test_a_third_refusal_is_an_error_not_a_loop(tei: FakeHuggingFace) -> None:
    p = endpoint(tei)
    for _ in range(5):
        tei.fail_next(413, tei_token_error(128, 202))
    try:
        with pytest.raises(EmbeddingServiceError, match="SEMSEARCH_CHUNK_TOKENS") as info:
            p.embed_documents([words(200)])
    finally:
        p.close()
    assert len(tei.requests) == 3
    assert info.value.setting == "SEMSEARCH_CHUNK_TOKENS"
    assert info.value.request_id == "fake-4"  # fake-1 answered GET /info


def test_the_openai_route_cuts_client_side_without_a_truncate_field(tei: FakeHuggingFace) -> None:
    tei.max_input_tokens = 20
    p = endpoint(tei, route="/v1/embeddings")
    long = words(60)
    try:
        vectors = p.embed_documents(["short", long])
    finally:
        p.close()
    refused, cut = tei.requests
    assert "truncate" not in refused.json and "truncate" not in cut.json
    assert cut.inputs[0] == "short" and long.startswith(cut.inputs[1])
    assert FakeHuggingFace.count_tokens(cut.inputs[1]) <= 20
    assert len(vectors) == 2


def test_a_character_limit_is_met_exactly(tei: FakeHuggingFace) -> None:
    """TEI also limits characters, and truncation does not lift that (TEI issue #394)."""
    p = HFInferenceProvider(
        EmbeddingSettings(model=MODEL, token=SecretStr(TOKEN), hf_inference_base_url=tei.base_url),
        retry=FAST,
    )
    error = "Input validation error: `inputs` must have less than 50 characters. Given: 120"
    tei.fail_next(413, {"error": error, "error_type": "Validation"})
    try:
        p.embed_documents(["x" * 120])
    finally:
        p.close()
    refused, cut = tei.requests
    assert refused.json["truncate"] is True  # the router always asks for truncation
    assert cut.inputs == ["x" * 49]


# -- the pure helpers --------------------------------------------------------------------------


def test_estimate_leans_high() -> None:
    assert estimate_tokens("") == 2
    assert estimate_tokens("the cat sat") == 5
    assert estimate_tokens("embedding, truly.") == 2 + 3 + 1 + 2 + 1
    assert estimate_tokens("日本語") == 2 + 3
    prose = "Qdrant keeps dense and sparse vectors side by side for hybrid search. " * 10
    assert estimate_tokens(prose) >= 1.3 * len(prose.split())


def test_batches_respect_every_limit() -> None:
    texts = [words(10, f"b{i}x") for i in range(10)]
    by_count = list(batches(texts, lambda: 3))
    assert [len(b) for b in by_count] == [3, 3, 3, 1]
    by_bytes = list(batches(texts, lambda: 100, max_bytes=2 * len(texts[0].encode()) + 8))
    assert all(len(b) <= 2 for b in by_bytes)
    by_tokens = list(batches(texts, lambda: 100, max_tokens=2 * estimate_tokens(texts[0])))
    assert all(len(b) <= 2 for b in by_tokens)
    capped = list(batches(texts, lambda: 100, max_tokens=40, token_cap=10))
    assert [len(b) for b in capped] == [4, 4, 2]
    alone = list(batches([words(500)], lambda: 10, max_tokens=5))
    assert len(alone) == 1  # a text over every budget still goes, on its own


def test_cuts() -> None:
    text = words(100)
    cut = cut_to_tokens(text, 30)
    assert text.startswith(cut) and estimate_tokens(cut) <= 30 < estimate_tokens(text)
    assert cut_to_tokens("short", 30) == "short"
    assert cut_to_fit(["abcdef"], 4, 6, "characters") == ["abc"]
    # The estimate says nothing is over: shorten by the server's ratio.
    shortened = cut_to_fit(["a b c d e f g h i j"], 10, 20, "tokens")
    assert len(shortened[0]) < len("a b c d e f g h i j")
