"""Errors users can act on: one distinct message per cause, naming the setting to fix.

Each case is answered the way the real service answers it (sources in embeddings/diagnose.py),
by FakeHuggingFace, a real loopback server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from embeddings.errors import EmbeddingServiceError
from embeddings.remote import EndpointProvider, RemoteProvider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from inference.retry import RetryPolicy
from tests.fake_hf import FakeHuggingFace
from tests.processes import free_port

TOKEN = "hf_errorsTOKEN0123456789"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.01, max_retry_wait_s=0.5, deadline_s=10.0)


@pytest.fixture
def hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN, known_models={MODEL}) as server:
        yield server


def router(server: FakeHuggingFace, model: str = MODEL, token: str = TOKEN) -> RemoteProvider:
    settings = EmbeddingSettings(
        model=model, token=SecretStr(token), hf_inference_base_url=server.base_url
    )
    return HFInferenceProvider(settings, retry=FAST)


def endpoint(url: str, token: str = TOKEN) -> RemoteProvider:
    settings = EmbeddingSettings(endpoint=url, token=SecretStr(token), connect_timeout_s=2.0)
    return EndpointProvider(settings, retry=FAST)


def failure(provider: RemoteProvider) -> EmbeddingServiceError:
    try:
        with pytest.raises(EmbeddingServiceError) as info:
            provider.embed_documents(["x"])
    finally:
        provider.close()
    return info.value


Case = Callable[[FakeHuggingFace], RemoteProvider]


def wrong_token(hf: FakeHuggingFace) -> RemoteProvider:
    return router(hf, token="hf_wrongTOKENxyz")


def out_of_credits(hf: FakeHuggingFace) -> RemoteProvider:
    hf.fail_next(402)
    return router(hf)


def unknown_model(hf: FakeHuggingFace) -> RemoteProvider:
    return router(hf, model="nobody/no-such-model")


def text_generation_model(hf: FakeHuggingFace) -> RemoteProvider:
    hf.model_tasks["openai-community/gpt2"] = "text-generation"
    return router(hf, model="openai-community/gpt2")


def paused_endpoint(hf: FakeHuggingFace) -> RemoteProvider:
    hf.paused = True
    return endpoint(hf.url)


def scaled_to_zero(hf: FakeHuggingFace) -> RemoteProvider:
    hf.scale_to_zero(10)
    return endpoint(hf.url)


def still_loading(hf: FakeHuggingFace) -> RemoteProvider:
    for _ in range(10):
        hf.fail_next(503, {"error": f"Model {MODEL} is currently loading", "estimated_time": 0.01})
    return router(hf)


def missing_endpoint_route(hf: FakeHuggingFace) -> RemoteProvider:
    return endpoint(f"{hf.url}/no-such-route")


def refused(hf: FakeHuggingFace) -> RemoteProvider:
    return endpoint(f"http://127.0.0.1:{free_port()}/embed")


def no_such_host(hf: FakeHuggingFace) -> RemoteProvider:
    return endpoint("http://semsearch-test.invalid/embed")


CASES: list[tuple[Case, str, str, int | None]] = [
    (wrong_token, "HF_TOKEN was rejected", "HF_TOKEN", 401),
    (out_of_credits, "out of credits", "HF_TOKEN", 402),
    (unknown_model, "was not found on HF Inference", "EMBEDDINGS_MODEL", 404),
    (text_generation_model, "is not a feature-extraction", "EMBEDDINGS_MODEL", 400),
    (paused_endpoint, "is paused", "EMBEDDINGS_ENDPOINT", 400),
    (scaled_to_zero, "scaled to zero", "EMBEDDINGS_ENDPOINT", 503),
    (still_loading, "still loading", "EMBEDDINGS_MODEL", 503),
    (
        missing_endpoint_route,
        "was not found; check EMBEDDINGS_ENDPOINT",
        "EMBEDDINGS_ENDPOINT",
        404,
    ),
    (refused, "connection refused", "EMBEDDINGS_ENDPOINT", None),
    (no_such_host, "does not resolve", "EMBEDDINGS_ENDPOINT", None),
]


@pytest.mark.parametrize(
    ("case", "words", "setting", "status"), CASES, ids=[c[0].__name__ for c in CASES]
)
def test_each_cause_has_its_own_message(
    hf: FakeHuggingFace,
    caplog: pytest.LogCaptureFixture,
    case: Case,
    words: str,
    setting: str,
    status: int | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    error = failure(case(hf))
    assert words in str(error)
    assert error.setting == setting and setting in str(error)
    assert error.status == status
    if status is not None:  # an HTTP answer: its request id is quoted
        assert error.request_id and error.request_id.startswith("fake-")
        assert f"(request id {error.request_id})" in str(error)
    for other in CASES:
        if other[1] != words:
            assert other[1] not in str(error), other[0].__name__
    assert TOKEN not in str(error) and TOKEN not in caplog.text


def test_client_errors_are_sent_once(hf: FakeHuggingFace) -> None:
    for case in (
        wrong_token,
        out_of_credits,
        unknown_model,
        text_generation_model,
        paused_endpoint,
    ):
        before = len(hf.requests)
        failure(case(hf))
        assert len(hf.requests) == before + 1, case.__name__
        hf.paused = False


def test_a_starting_endpoint_is_waited_for(hf: FakeHuggingFace) -> None:
    hf.scale_to_zero(2)
    p = endpoint(f"{hf.url}/embed")
    try:
        [vector] = p.embed_documents(["x"])
    finally:
        p.close()
    assert vector == pytest.approx(FakeHuggingFace.vector_for("x"))
    assert len(hf.requests) == 3


def test_the_token_never_leaks_into_logs_or_errors(
    hf: FakeHuggingFace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": f"upstream said: Authorization: Bearer {TOKEN}"}
    hf.fail_next(500, echo)
    hf.fail_next(500, echo)
    hf.fail_next(500, echo)
    error = failure(router(hf))
    assert "***" in str(error)
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in caplog.text and "***" in caplog.text
