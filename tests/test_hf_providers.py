"""Embeddings through any Inference Provider: the Hub's mapping, the choice, the provider's
route and model id, and the errors, against a loopback Hub + router (tests/fake_hf_hub.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from embeddings.check import ConnectionReport, check_connection
from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingResponseError,
    EmbeddingUnavailableError,
)
from embeddings.factory import build_provider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from tests.fake_hf import FakeHuggingFace
from tests.fake_hf_hub import FakeHub
from tests.remote_support import FAST

TOKEN = "hf_providers_secret_token"
MODEL = "BAAI/bge-small-en-v1.5"
TOGETHER_ID = "baai-bge-small-en-v15"
DEEPINFRA_ID = "BAAI/bge-small-en-v1.5-deepinfra"

#: The dict-by-provider shape the Hub answers for one model, in the user's order.
MAPPING = {
    "novita": {"status": "live", "providerId": "novita/x", "task": "text-generation"},
    "scaleway": {"status": "staging", "providerId": "bge-small", "task": "feature-extraction"},
    "together": {
        "status": "live",
        "providerId": TOGETHER_ID,
        "task": "feature-extraction",
        "isModelAuthor": False,
    },
    "deepinfra": {"status": "live", "providerId": DEEPINFRA_ID, "task": "feature-extraction"},
}


def _as_list(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """The same mapping in the list shape (``provider`` inside each entry)."""
    return [{"provider": name, **entry} for name, entry in mapping.items()]


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(
        token=TOKEN,
        mappings={MODEL: MAPPING},
        served={"together": {TOGETHER_ID}, "deepinfra": {DEEPINFRA_ID}, "hf-inference": {MODEL}},
    ) as server:
        yield server


def _settings(hub: FakeHub, **changes: Any) -> EmbeddingSettings:
    values: dict[str, Any] = {
        "provider": "hf-inference",
        "model": MODEL,
        "token": SecretStr(TOKEN),
        "hub_url": hub.url,
        "router_url": hub.router_url,
    }
    values.update(changes)
    return EmbeddingSettings(**values)


def _provider(settings: EmbeddingSettings) -> HFInferenceProvider:
    provider = build_provider(settings, retry=FAST)
    assert isinstance(provider, HFInferenceProvider)
    return provider


def _embedded(hub: FakeHub, text: str, **changes: Any) -> HFInferenceProvider:
    """A provider of these settings, after it embedded ``text`` (and was closed)."""
    provider = _provider(_settings(hub, **changes))
    try:
        provider.embed_documents([text])
    finally:
        provider.close()
    return provider


@pytest.mark.parametrize("shape", ["dict", "list"])
def test_auto_takes_the_first_live_embeddings_provider_in_the_hubs_order(
    hub: FakeHub, shape: str
) -> None:
    if shape == "list":
        hub.mappings[MODEL] = _as_list(MAPPING)
    provider = _provider(_settings(hub))
    try:
        vectors = provider.embed_documents(["alpha", "beta"])
    finally:
        provider.close()
    expected = [FakeHuggingFace.vector_for("alpha"), FakeHuggingFace.vector_for("beta")]
    assert vectors == [pytest.approx(v, abs=1e-9) for v in expected]
    first, second = hub.requests
    assert first.method == "GET"
    assert first.path == f"/api/models/{MODEL}?expand%5B%5D=inferenceProviderMapping"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    # Not novita (another task), not scaleway (staging): together, with its own model id.
    assert (second.method, second.path) == ("POST", "/router/together/v1/embeddings")
    assert second.json == {"input": ["alpha", "beta"], "model": TOGETHER_ID}
    assert second.headers["authorization"] == f"Bearer {TOKEN}"
    route = provider.route
    assert (route.provider, route.provider_id) == ("together", TOGETHER_ID)
    assert "auto" in route.reason and "deepinfra" in route.reason


def test_the_mapping_is_asked_once_per_model(hub: FakeHub) -> None:
    provider = _provider(_settings(hub))
    try:
        provider.embed_documents(["one"])
        provider.embed_query("two")
        provider.embed_documents(["three"])
    finally:
        provider.close()
    assert [r.method for r in hub.requests] == ["GET", "POST", "POST", "POST"]


def test_an_explicit_provider_uses_its_route_and_its_model_id(hub: FakeHub) -> None:
    provider = _embedded(hub, "gamma", hf_provider="deepinfra")
    post = hub.requests[-1]
    assert post.path == "/router/deepinfra/v1/openai/embeddings"
    assert post.json == {"input": ["gamma"], "model": DEEPINFRA_ID}
    assert provider.route.reason == "EMBEDDINGS_HF_PROVIDER is set to 'deepinfra'"


def test_hf_inference_keeps_its_route_and_never_asks_the_hub(hub: FakeHub) -> None:
    _embedded(hub, "delta", hf_provider="hf-inference")
    assert hub.routes() == [f"/router/hf-inference/models/{MODEL}/pipeline/feature-extraction"]
    assert hub.requests[0].json == {"inputs": ["delta"], "normalize": True, "truncate": True}


def test_auto_may_choose_hf_inference_for_a_sentence_similarity_model(hub: FakeHub) -> None:
    hub.mappings[MODEL] = {
        "hf-inference": {"status": "live", "providerId": MODEL, "task": "sentence-similarity"},
        **MAPPING,
    }
    _embedded(hub, "epsilon")
    assert hub.routes("POST") == [
        f"/router/hf-inference/models/{MODEL}/pipeline/feature-extraction"
    ]


def _error(hub: FakeHub, **changes: Any) -> EmbeddingError:
    provider = _provider(_settings(hub, **changes))
    try:
        with pytest.raises(EmbeddingError) as info:
            provider.embed_documents(["zeta"])
    finally:
        provider.close()
    assert TOKEN not in info.value.message
    return info.value


def test_a_model_no_provider_embeds_names_the_model_and_what_it_is_served_for(
    hub: FakeHub,
) -> None:
    hub.mappings[MODEL] = {"novita": MAPPING["novita"]}
    error = _error(hub)
    assert isinstance(error, EmbeddingConfigError)
    assert error.setting == "EMBEDDINGS_MODEL"
    assert "served by no Inference Provider for feature-extraction" in error.message
    assert "novita for text-generation" in error.message
    assert hub.routes("POST") == []


def test_a_model_with_no_provider_at_all(hub: FakeHub) -> None:
    hub.mappings[MODEL] = {}
    error = _error(hub)
    assert error.setting == "EMBEDDINGS_MODEL"
    assert "served by no Inference Provider" in error.message


def test_a_model_only_in_staging_is_not_used(hub: FakeHub) -> None:
    hub.mappings[MODEL] = {"scaleway": MAPPING["scaleway"]}
    error = _error(hub)
    assert error.setting == "EMBEDDINGS_MODEL"
    assert "only in staging (scaleway for feature-extraction (staging))" in error.message


@pytest.mark.parametrize(
    ("provider", "setting", "words"),
    [
        ("fireworks-ai", "EMBEDDINGS_HF_PROVIDER", "does not serve"),
        ("scaleway", "EMBEDDINGS_HF_PROVIDER", "only in 'staging'"),
        ("novita", "EMBEDDINGS_MODEL", "for text-generation, not feature-extraction"),
    ],
)
def test_an_explicit_provider_that_cannot_serve_it_says_why(
    hub: FakeHub, provider: str, setting: str, words: str
) -> None:
    error = _error(hub, hf_provider=provider)
    assert isinstance(error, EmbeddingConfigError)
    assert error.setting == setting
    assert words in error.message
    assert hub.routes("POST") == []


def test_a_model_the_hub_does_not_know(hub: FakeHub) -> None:
    error = _error(hub, model="nobody/no-such-model")
    assert isinstance(error, EmbeddingConfigError)
    assert error.setting == "EMBEDDINGS_MODEL"
    assert "not a model on the Hub" in error.message


def test_a_mapping_that_cannot_be_read(hub: FakeHub) -> None:
    hub.mappings[MODEL] = [{"provider": "together", "status": "live"}]  # no providerId
    error = _error(hub)
    assert isinstance(error, EmbeddingResponseError)
    assert error.setting == "HF_ENDPOINT"


def test_an_unreachable_hub_names_hf_endpoint(hub: FakeHub) -> None:
    with FakeHub(token=TOKEN) as gone:
        url = gone.url
    error = _error(hub, hub_url=url)
    assert isinstance(error, EmbeddingUnavailableError)
    assert error.setting == "HF_ENDPOINT"


def test_a_rejected_token_at_the_hub(hub: FakeHub) -> None:
    error = _error(hub, token=SecretStr("hf_wrong"))
    assert error.setting == "HF_TOKEN"


def test_the_mapping_is_asked_again_when_the_provider_drops_the_model(hub: FakeHub) -> None:
    provider = _provider(_settings(hub))
    try:
        provider.embed_documents(["before"])
        # together stops serving it; the Hub now maps it to deepinfra only.
        hub.served["together"].clear()
        hub.mappings[MODEL] = {"deepinfra": MAPPING["deepinfra"]}
        vectors = provider.embed_documents(["after"])
    finally:
        provider.close()
    assert vectors == [pytest.approx(FakeHuggingFace.vector_for("after"), abs=1e-9)]
    assert [(r.method, r.path.split("?")[0]) for r in hub.requests] == [
        ("GET", f"/api/models/{MODEL}"),
        ("POST", "/router/together/v1/embeddings"),
        ("POST", "/router/together/v1/embeddings"),  # 400 Model not supported by provider
        ("GET", f"/api/models/{MODEL}"),
        ("POST", "/router/deepinfra/v1/openai/embeddings"),
    ]
    assert provider.route.provider == "deepinfra"


def test_a_provider_refusing_a_model_the_hub_still_maps_to_it(
    hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub.served["together"].clear()
    with caplog.at_level(logging.DEBUG):
        error = _error(hub)
    assert isinstance(error, EmbeddingUnavailableError)
    assert error.setting == "EMBEDDINGS_HF_PROVIDER"
    assert "Model not supported by provider together" in error.message
    # Asked again once; the same answer means the same route, so nothing is sent again.
    assert [r.method for r in hub.requests] == ["GET", "POST", "GET"]
    assert TOKEN not in caplog.text


def _checked(hub: FakeHub) -> ConnectionReport:
    settings = _settings(hub)
    provider = _provider(settings)
    try:
        return check_connection(provider, settings)
    finally:
        provider.close()


def test_the_check_shows_the_provider_its_reason_and_its_model_id(hub: FakeHub) -> None:
    report = _checked(hub)
    assert report.ok, report.error
    assert report.hf_provider == "together"
    assert report.provider_model_id == TOGETHER_ID
    assert report.hf_provider_reason is not None and "auto" in report.hf_provider_reason
    assert report.endpoint == f"{hub.router_url}/together/v1/embeddings"


def test_the_check_of_an_unserved_model_reports_the_error(hub: FakeHub) -> None:
    hub.mappings[MODEL] = {"novita": MAPPING["novita"]}
    report = _checked(hub)
    assert not report.ok
    assert report.error is not None and "served by no Inference Provider" in report.error
    assert report.hf_provider is None


def test_a_provider_huggingface_hub_does_not_know_gets_the_openai_route(hub: FakeHub) -> None:
    # The Hub may map newer providers than the installed huggingface_hub has helpers for.
    hub.mappings[MODEL] = {
        "newcloud": {"status": "live", "providerId": "bge-small@v1", "task": "feature-extraction"}
    }
    hub.served["newcloud"] = {"bge-small@v1"}
    _embedded(hub, "eta")
    post = hub.requests[-1]
    assert (post.path, post.json) == (
        "/router/newcloud/v1/embeddings",
        {"input": ["eta"], "model": "bge-small@v1"},
    )
