"""Shared pieces of the HTTP-provider tests: the fake server fixture, settings and checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from inference.retry import RetryPolicy
from tests.fake_hf import FakeHuggingFace

TOKEN = "hf_testTOKEN0123456789"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.01, max_retry_wait_s=1.0, deadline_s=10.0)


@pytest.fixture
def hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN) as server:
        yield server


def hf_settings(server: FakeHuggingFace, **overrides: object) -> EmbeddingSettings:
    values: dict[str, object] = {
        "model": MODEL,
        "token": SecretStr(TOKEN),
        "hf_inference_base_url": server.base_url,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 5.0,
    }
    values.update(overrides)
    return EmbeddingSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def provider(hf: FakeHuggingFace) -> Iterator[HFInferenceProvider]:
    p = HFInferenceProvider(hf_settings(hf), retry=FAST)
    yield p
    p.close()


def expected(text: str, dim: int = 384) -> list[float]:
    return FakeHuggingFace.vector_for(text, dim)


def assert_vectors(got: list[list[float]], texts: list[str], dim: int = 384) -> None:
    assert len(got) == len(texts)
    for vector, text in zip(got, texts, strict=True):
        assert vector == pytest.approx(expected(text, dim), abs=1e-9)


# -- the HF router wire format -------------------------------------------------------------
