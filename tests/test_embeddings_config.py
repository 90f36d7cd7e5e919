"""Provider choice, configuration errors, the connection check and response parsing."""

from __future__ import annotations

import math

import pytest
from pydantic import SecretStr

from embeddings.check import check_connection
from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingResponseError,
)
from embeddings.factory import build_provider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings, resolve_provider
from embeddings.wire import parse_vectors
from inference.retry import wait_hint
from tests.fake_hf import FakeHuggingFace
from tests.remote_support import FAST, MODEL, TOKEN, hf_settings


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        (EmbeddingSettings(), "local"),
        (EmbeddingSettings(token=SecretStr("hf_x")), "hf-inference"),
        (EmbeddingSettings(endpoint="http://h/embed", token=SecretStr("hf_x")), "endpoint"),
        (EmbeddingSettings(endpoint="http://h/embed"), "endpoint"),
        (EmbeddingSettings(provider="Local", token=SecretStr("hf_x")), "local"),
        (EmbeddingSettings(provider="hf-inference"), "hf-inference"),
        (EmbeddingSettings(token=SecretStr("   ")), "local"),
    ],
)
def test_resolve_provider_rules(settings: EmbeddingSettings, name: str) -> None:
    resolved, reason = resolve_provider(settings)
    assert resolved == name
    assert reason


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(EmbeddingConfigError, match="EMBEDDINGS_PROVIDER"):
        resolve_provider(EmbeddingSettings(provider="openai"))


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        (EmbeddingSettings(provider="hf-inference"), "HF_TOKEN"),
        (
            EmbeddingSettings(provider="hf-inference", model="", token=SecretStr("t")),
            "EMBEDDINGS_MODEL",
        ),
        (EmbeddingSettings(provider="endpoint"), "EMBEDDINGS_ENDPOINT"),
        (EmbeddingSettings(endpoint="ftp://host/x"), "EMBEDDINGS_ENDPOINT"),
        (
            EmbeddingSettings(
                token=SecretStr("t"), hf_inference_base_url="https://api-inference.huggingface.co"
            ),
            "HF_INFERENCE_BASE_URL",
        ),
    ],
)
def test_build_provider_names_the_missing_setting(
    settings: EmbeddingSettings, setting: str
) -> None:
    with pytest.raises(EmbeddingConfigError) as info:
        build_provider(settings)
    assert info.value.setting == setting
    assert setting in str(info.value)


def test_build_provider_picks_hf_inference_from_the_token(hf: FakeHuggingFace) -> None:
    p = build_provider(hf_settings(hf), retry=FAST)
    try:
        assert isinstance(p, HFInferenceProvider)
        assert TOKEN not in repr(p)
    finally:
        p.close()


# -- check_connection ----------------------------------------------------------------------


def test_check_connection_reports_the_dimension(hf: FakeHuggingFace) -> None:
    hf.dimension = 768
    settings = hf_settings(hf)
    p = build_provider(settings, retry=FAST)
    try:
        report = check_connection(p, settings)
    finally:
        p.close()
    assert report.ok and report.error is None
    assert report.dimension == 768
    assert report.provider == "hf-inference"
    assert report.reason == "HF_TOKEN is set and EMBEDDINGS_ENDPOINT is not"
    assert report.model == MODEL
    assert report.endpoint == f"{hf.base_url}/models/{MODEL}/pipeline/feature-extraction"
    assert (report.hf_provider, report.provider_model_id) == ("hf-inference", MODEL)
    assert report.hf_provider_reason == "HF_INFERENCE_BASE_URL is set"
    assert report.token_set is True and report.took_ms >= 0
    assert TOKEN not in repr(report)


def test_check_connection_reports_a_rejected_token(hf: FakeHuggingFace) -> None:
    settings = hf_settings(hf, token=SecretStr("hf_revokedTOKEN999"))
    p = build_provider(settings, retry=FAST)
    try:
        report = check_connection(p, settings)
    finally:
        p.close()
    assert not report.ok and report.dimension is None
    assert report.error is not None and "HF_TOKEN was rejected" in report.error
    assert "hf_revokedTOKEN999" not in repr(report)


# -- parse_vectors, the pure part ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "n", "match"),
    [
        ({"error": "boom"}, 1, "boom"),
        ({"error": {"message": "openai boom"}}, 1, "openai boom"),
        ({"message": "tei boom", "code": 400, "type": "x"}, 1, "tei boom"),
        ([[1.0, "2"]], 1, "not a list of numbers"),
        ([[True, False]], 1, "not a list of numbers"),
        ([[1.0, None]], 1, "not a list of numbers"),
        ([[1.0, math.inf]], 1, "NaN or infinite"),
        ([[0.0, 0.0]], 1, "all-zero"),
        ([1.0, 2.0], 2, "single flat vector"),
        ([], 1, "no vectors"),
        ("nope", 1, "expected a JSON list"),
        ({"data": [{"embedding": [1.0], "index": 1}]}, 1, "indices"),
        ([[[1.0, 2.0], [1.0]]], 1, "inconsistent dimensions"),
    ],
)
def test_parse_vectors_rejects(body: object, n: int, match: str) -> None:
    with pytest.raises(EmbeddingResponseError, match=match):
        parse_vectors(body, n)


def test_parse_vectors_shapes() -> None:
    assert parse_vectors([3.0, 4.0], 1) == [pytest.approx([0.6, 0.8])]
    assert parse_vectors([[3, 4], [0, 2]], 2) == [pytest.approx([0.6, 0.8]), [0.0, 1.0]]
    ragged = [[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0]]]
    pooled = parse_vectors(ragged, 2)
    assert pooled[0] == pytest.approx([math.sqrt(0.5), math.sqrt(0.5)])
    assert pooled[1] == [1.0, 0.0]
    openai = {"data": [{"embedding": [0, 1], "index": 1}, {"embedding": [1, 0], "index": 0}]}
    assert parse_vectors(openai, 2) == [[1.0, 0.0], [0.0, 1.0]]


def test_wait_hints() -> None:
    assert wait_hint(503, {}, {"error": "loading", "estimated_time": 12.5}) == 12.5
    assert wait_hint(429, {"retry-after": "7"}, None) == 7.0
    assert wait_hint(429, {"ratelimit": '"api";r=0;t=55'}, None) == 55.0
    assert wait_hint(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None) == 0.0
    assert wait_hint(500, {}, {"error": "x"}) is None
