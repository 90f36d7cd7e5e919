"""EMBEDDINGS_ENDPOINT_NAMESPACE: the endpoint URL is checked against the namespace's Inference
Endpoints (Dify's check), against a loopback Endpoints API (tests/fake_hf_hub.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from embeddings.check import check_connection, log_namespace_check
from embeddings.factory import build_provider
from embeddings.settings import EmbeddingSettings
from tests.fake_hf import FakeHuggingFace
from tests.fake_hf_hub import FakeHub, endpoint_item
from tests.remote_support import FAST

TOKEN = "hf_namespace_secret"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def tei() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN) as server:
        yield server


@pytest.fixture
def api() -> Iterator[FakeHub]:
    with FakeHub(token=TOKEN) as server:
        yield server


def _check(api: FakeHub, tei: FakeHuggingFace, items: list[dict[str, Any]], **changes: Any):  # type: ignore[no-untyped-def]
    api.endpoints["acme"] = items
    values: dict[str, Any] = {
        "endpoint": f"{tei.url}/embed",
        "model": MODEL,
        "token": SecretStr(TOKEN),
        "endpoint_namespace": "acme",
        "endpoints_api_url": api.endpoints_api_url,
    }
    values.update(changes)
    settings = EmbeddingSettings(**values)
    provider = build_provider(settings, retry=FAST)
    try:
        report = check_connection(provider, settings)
    finally:
        provider.close()
    assert report.error is None or TOKEN not in report.error
    return report


def test_the_endpoint_of_the_namespace_serving_the_model_passes(
    api: FakeHub, tei: FakeHuggingFace
) -> None:
    items = [
        endpoint_item("other", "https://other.example", "BAAI/bge-m3"),
        endpoint_item("minilm", tei.url, MODEL),
    ]
    report = _check(api, tei, items)
    assert report.ok, report.error
    assert report.namespace_endpoint == {
        "namespace": "acme",
        "name": "minilm",
        "repository": MODEL,
        "state": "running",
        "note": None,
    }
    listing = api.requests[0]
    assert (listing.method, listing.path) == ("GET", "/v2/endpoint/acme")
    assert listing.headers["authorization"] == f"Bearer {TOKEN}"
    assert tei.requests, "the probe was sent after the check"


def test_an_unknown_namespace_names_its_setting(api: FakeHub, tei: FakeHuggingFace) -> None:
    report = _check(api, tei, [], endpoint_namespace="nobody")
    assert not report.ok
    assert report.error is not None
    assert "EMBEDDINGS_ENDPOINT_NAMESPACE='nobody'" in report.error
    assert not tei.requests, "no probe when the settings disagree"


def test_a_url_outside_the_namespace_names_endpoint(api: FakeHub, tei: FakeHuggingFace) -> None:
    report = _check(api, tei, [endpoint_item("other", "https://other.example", MODEL)])
    assert report.error is not None
    assert "is not the URL of an Inference Endpoint of 'acme'" in report.error
    assert "other (https://other.example)" in report.error


def test_another_model_names_the_endpoints(api: FakeHub, tei: FakeHuggingFace) -> None:
    report = _check(api, tei, [endpoint_item("bge", tei.url, "BAAI/bge-m3")])
    assert report.error is not None
    assert "serves 'BAAI/bge-m3', not EMBEDDINGS_MODEL=" in report.error
    assert "set EMBEDDINGS_MODEL=BAAI/bge-m3" in report.error


def test_a_paused_endpoint_says_how_to_resume_it(api: FakeHub, tei: FakeHuggingFace) -> None:
    report = _check(api, tei, [endpoint_item("minilm", tei.url, MODEL, state="paused")])
    assert report.error is not None
    assert "is paused" in report.error
    assert "/endpoint/acme/minilm/resume" in report.error


def test_a_scaled_to_zero_endpoint_passes_with_a_note(api: FakeHub, tei: FakeHuggingFace) -> None:
    report = _check(api, tei, [endpoint_item("minilm", tei.url, MODEL, state="scaledToZero")])
    assert report.ok, report.error
    assert report.namespace_endpoint is not None
    assert "scaled to zero" in str(report.namespace_endpoint["note"])


def test_a_route_under_the_endpoints_url_is_that_endpoint(
    api: FakeHub, tei: FakeHuggingFace
) -> None:
    report = _check(
        api,
        tei,
        [endpoint_item("minilm", tei.url + "/", MODEL)],
        endpoint=f"{tei.url}/v1/embeddings",
    )
    assert report.ok, report.error


def test_the_start_up_check_logs_a_disagreement_naming_the_setting(
    api: FakeHub, tei: FakeHuggingFace, caplog: pytest.LogCaptureFixture
) -> None:
    api.endpoints["acme"] = [endpoint_item("bge", tei.url, "BAAI/bge-m3")]
    settings = EmbeddingSettings(
        endpoint=f"{tei.url}/embed",
        model=MODEL,
        token=SecretStr(TOKEN),
        endpoint_namespace="acme",
        endpoints_api_url=api.endpoints_api_url,
    )
    with caplog.at_level(logging.INFO, logger="embeddings.check"):
        assert log_namespace_check(settings) is None
        api.endpoints["acme"] = [endpoint_item("minilm", tei.url, MODEL)]
        found = log_namespace_check(settings)
    assert found is not None and found.name == "minilm"
    warning, info = caplog.records
    assert (
        warning.levelno == logging.WARNING and "set EMBEDDINGS_MODEL=BAAI/bge-m3" in warning.message
    )
    assert info.levelno == logging.INFO and "'minilm' of 'acme'" in info.message
    assert TOKEN not in caplog.text
