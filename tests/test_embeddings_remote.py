"""The HTTP providers against FakeHuggingFace, a real loopback server speaking HF's wire format."""

from __future__ import annotations

import math
import socket
import time

import pytest
from pydantic import SecretStr

from embeddings.errors import (
    DimensionMismatchError,
    EmbeddingResponseError,
    EmbeddingServiceError,
)
from embeddings.factory import build_provider
from embeddings.remote import EndpointProvider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from inference.retry import RetryPolicy
from tests.fake_hf import FakeHuggingFace
from tests.remote_support import FAST, MODEL, TOKEN, assert_vectors, expected, hf_settings


def test_request_is_exactly_what_the_hf_router_expects(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    vectors = provider.embed_documents(["alpha", "beta"])
    assert_vectors(vectors, ["alpha", "beta"])
    [req] = hf.requests
    assert req.method == "POST"
    assert req.path == f"/hf-inference/models/{MODEL}/pipeline/feature-extraction"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {"inputs": ["alpha", "beta"], "normalize": True, "truncate": True}
    assert provider.name == "hf-inference" and provider.model_id == MODEL


def test_batches_of_batch_size(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    texts = [f"text number {i}" for i in range(70)]
    vectors = provider.embed_documents(texts)
    # Batches go out side by side (at most 4 at once), so compare them regardless of order.
    assert sorted(len(r.inputs) for r in hf.requests) == [6, 32, 32]
    assert sorted(t for r in hf.requests for t in r.inputs) == sorted(texts)
    assert_vectors(vectors, texts)  # and the vectors come back in the texts' order


def test_batches_are_sent_side_by_side_within_the_bound(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    hf.latency_s = 0.2
    texts = [f"text number {i}" for i in range(32 * 6)]
    assert_vectors(provider.embed_documents(texts), texts)
    assert len(hf.requests) == 6
    assert hf.max_in_flight == provider.retry.max_concurrency == 4


def test_token_level_output_is_mean_pooled(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    hf.token_level = True
    texts = ["a", "two words", "a somewhat longer sentence here"]
    vectors = provider.embed_documents(texts)
    assert_vectors(vectors, texts)
    for v in vectors:
        assert math.isclose(math.fsum(x * x for x in v), 1.0, abs_tol=1e-9)


def test_flat_vector_for_a_single_input(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.flat_single = True
    assert provider.embed_query("only one") == pytest.approx(expected("only one"))
    assert_vectors(provider.embed_documents(["one", "two"]), ["one", "two"])


def test_error_object_with_status_200_is_rejected(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    hf.fail_next(200, {"error": "Model too busy, unable to get response in less than 60 second(s)"})
    with pytest.raises(EmbeddingResponseError, match="too busy"):
        provider.embed_documents(["x"])


def test_nan_in_the_answer_is_rejected(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.fail_next(200, "[[0.5, NaN, 0.1]]")
    with pytest.raises(EmbeddingResponseError, match="NaN"):
        provider.embed_documents(["x"])


def test_wrong_row_count_is_rejected(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.fail_next(200, [[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(EmbeddingResponseError, match="2 vectors for 3 texts"):
        provider.embed_documents(["a", "b", "c"])


# -- errors that must not be retried -------------------------------------------------------


def test_401_is_raised_once_and_names_hf_token(hf: FakeHuggingFace) -> None:
    wrong = "hf_wrongTOKENabcdef"
    p = HFInferenceProvider(hf_settings(hf, token=SecretStr(wrong)), retry=FAST)
    try:
        with pytest.raises(EmbeddingServiceError) as info:
            p.embed_documents(["x"])
    finally:
        p.close()
    assert len(hf.requests) == 1
    err = info.value
    assert err.status == 401 and err.setting == "HF_TOKEN"
    assert "HF_TOKEN was rejected" in str(err)
    assert "request id fake-1" in str(err)
    assert wrong not in str(err) and wrong not in repr(err) and wrong not in repr(p)
    assert TOKEN not in str(err)


@pytest.mark.parametrize(
    ("status", "words", "setting"),
    [
        (402, "out of credits", "HF_TOKEN"),
        (403, "no access", "HF_TOKEN"),
        (404, "EMBEDDINGS_MODEL", "EMBEDDINGS_MODEL"),
        (400, "invalid", None),
    ],
)
def test_client_errors_are_not_retried(
    hf: FakeHuggingFace,
    provider: HFInferenceProvider,
    status: int,
    words: str,
    setting: str | None,
) -> None:
    hf.fail_next(status)
    with pytest.raises(EmbeddingServiceError, match=words) as info:
        provider.embed_documents(["x"])
    assert len(hf.requests) == 1
    assert info.value.status == status and info.value.setting == setting
    assert info.value.request_id == "fake-1"


def test_an_echoed_token_is_redacted(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.fail_next(400, {"error": f"bad header Bearer {TOKEN}"})
    with pytest.raises(EmbeddingServiceError) as info:
        provider.embed_documents(["x"])
    assert TOKEN not in str(info.value) and "***" in str(info.value)


# -- retries -------------------------------------------------------------------------------


def test_503_loading_waits_estimated_time_then_succeeds(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    hf.fail_next(503, {"error": f"Model {MODEL} is currently loading", "estimated_time": 0.2})
    started = time.monotonic()
    vectors = provider.embed_documents(["hello"])
    assert time.monotonic() - started >= 0.2
    assert len(hf.requests) == 2
    assert_vectors(vectors, ["hello"])


def test_429_honours_retry_after(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.fail_next(429, headers={"Retry-After": "0.3"})
    started = time.monotonic()
    assert_vectors(provider.embed_documents(["hello"]), ["hello"])
    assert time.monotonic() - started >= 0.3
    assert len(hf.requests) == 2


def test_retries_are_bounded(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    for _ in range(10):
        hf.fail_next(503, {"error": "loading", "estimated_time": 0.01})
    with pytest.raises(EmbeddingServiceError, match="still failing after 4 attempts") as info:
        provider.embed_documents(["x"])
    assert len(hf.requests) == FAST.max_attempts
    assert info.value.status == 503


def test_413_splits_the_batch(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    texts = [f"t{i}" for i in range(32)]
    hf.fail_next(413)
    assert_vectors(provider.embed_documents(texts), texts)
    assert [len(r.inputs) for r in hf.requests] == [32, 16, 16]


def test_server_batch_limit_is_learned(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    hf.max_batch_size = 10
    texts = [f"t{i}" for i in range(40)]
    assert_vectors(provider.embed_documents(texts), texts)
    sizes = [len(r.inputs) for r in hf.requests]
    # Batches go out side by side, so only the refusals have a fixed order: 32, then its half.
    assert [s for s in sizes if s > 10] == [32, 16]
    assert all(s <= 8 for s in sizes if s <= 10)
    assert sum(s for s in sizes if s <= 10) == 40


def test_concurrent_callers_each_get_their_own_vectors(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [[f"thread {t} text {i}" for i in range(40)] for t in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(provider.embed_documents, jobs))
    for texts, vectors in zip(jobs, results, strict=True):
        assert_vectors(vectors, texts)


# -- the dimension guard -------------------------------------------------------------------


def test_dimension_is_probed_once(hf: FakeHuggingFace, provider: HFInferenceProvider) -> None:
    assert provider.dimension == 384
    assert provider.dimension == 384
    assert len(hf.requests) == 1


def test_wrong_dimension_mid_stream_is_refused(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    assert provider.dimension == 384
    provider.embed_documents(["fine"])
    hf.dimension = 128
    with pytest.raises(DimensionMismatchError, match="128-dimensional"):
        provider.embed_documents([f"t{i}" for i in range(40)])


def test_inconsistent_dimensions_within_a_batch(
    hf: FakeHuggingFace, provider: HFInferenceProvider
) -> None:
    hf.fail_next(200, [[0.1, 0.2, 0.3], [0.1, 0.2]])
    with pytest.raises(EmbeddingResponseError, match="inconsistent dimensions"):
        provider.embed_documents(["a", "b"])


# -- the endpoint provider -----------------------------------------------------------------


def test_endpoint_posts_the_url_as_is_with_a_blank_model() -> None:
    with FakeHuggingFace() as tei:
        url = f"{tei.url}/embed"
        p = EndpointProvider(EmbeddingSettings(endpoint=url, model=""), retry=FAST)
        try:
            assert_vectors(p.embed_documents(["a", "b"]), ["a", "b"])
        finally:
            p.close()
        assert p.name == "endpoint" and p.model_id == url
        [req] = tei.requests
        assert req.path == "/embed"
        # An endpoint asks for truncation only once a text needs it (see test_embeddings_info).
        assert req.json == {"inputs": ["a", "b"], "normalize": True}
        assert "authorization" not in req.headers
        [info] = tei.info_requests  # asked once, on first use; a 404 is fine
        assert info.path == "/info"


def test_endpoint_sends_the_token_when_set(hf: FakeHuggingFace) -> None:
    settings = EmbeddingSettings(endpoint=f"{hf.url}/embed", token=SecretStr(TOKEN))
    p = build_provider(settings, retry=FAST)
    try:
        assert isinstance(p, EndpointProvider)
        assert p.model_id == MODEL
        p.embed_documents(["x"])
    finally:
        p.close()
    assert hf.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_openai_route_gets_the_openai_body(hf: FakeHuggingFace) -> None:
    settings = EmbeddingSettings(endpoint=f"{hf.url}/v1/embeddings", token=SecretStr(TOKEN))
    p = EndpointProvider(settings, retry=FAST)
    try:
        texts = ["first", "second", "third"]
        assert_vectors(p.embed_documents(texts), texts)  # the fake answers in reverse order
    finally:
        p.close()
    assert hf.requests[0].path == "/v1/embeddings"
    assert hf.requests[0].json == {"input": ["first", "second", "third"], "model": MODEL}


def test_unreachable_endpoint_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/embed"
    p = EndpointProvider(EmbeddingSettings(endpoint=url, connect_timeout_s=2.0), retry=FAST)
    try:
        with pytest.raises(EmbeddingServiceError) as info:
            p.embed_documents(["x"])
    finally:
        p.close()
    assert f"cannot reach {url}" in str(info.value)
    assert "EMBEDDINGS_ENDPOINT" in str(info.value)
    assert info.value.setting == "EMBEDDINGS_ENDPOINT"


def test_endpoint_404_names_the_endpoint_setting(hf: FakeHuggingFace) -> None:
    p = EndpointProvider(
        EmbeddingSettings(endpoint=f"{hf.url}/nope", token=SecretStr(TOKEN)), retry=FAST
    )
    try:
        with pytest.raises(EmbeddingServiceError, match="EMBEDDINGS_ENDPOINT"):
            p.embed_documents(["x"])
    finally:
        p.close()


# -- configuration -------------------------------------------------------------------------


def test_read_timeout_is_retried_then_reported(hf: FakeHuggingFace) -> None:
    hf.latency_s = 1.0
    slow = HFInferenceProvider(
        hf_settings(hf, read_timeout_s=0.2),
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, max_retry_wait_s=0.1),
    )
    try:
        with pytest.raises(EmbeddingServiceError) as caught:
            slow.embed_documents(["a text the server is too slow for"])
    finally:
        slow.close()
    assert len(hf.requests) == 2  # a timeout is transient: tried again, then given up
    assert "no answer within 0.2 s" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_slow_answer_within_the_read_timeout_succeeds(hf: FakeHuggingFace) -> None:
    hf.latency_s = 0.3
    patient = HFInferenceProvider(hf_settings(hf, read_timeout_s=2.0), retry=FAST)
    try:
        assert_vectors(patient.embed_documents(["slow but fine"]), ["slow but fine"])
    finally:
        patient.close()
    assert len(hf.requests) == 1
