"""Inference Providers through the whole app and the CLI: settings alone point semsearch at the
Hub's mapping and a provider's route (a loopback Hub + router, tests/fake_hf_hub.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.apphelpers import ingest
from tests.fake_hf import FakeHuggingFace
from tests.fake_hf_hub import FakeHub, endpoint_item
from tests.processes import SEMSEARCH, child_env
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

TOKEN = "hf_app_providers_secret"
MODEL = "intfloat/multilingual-e5-large-instruct"
TOGETHER_ID = "intfloat/multilingual-e5-large-instruct-together"
NOTE = b"# Otters\n\nSea otters hold hands while they sleep so that they do not drift apart.\n"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    mapping = [
        {
            "provider": "together",
            "providerId": TOGETHER_ID,
            "status": "live",
            "task": "feature-extraction",
        },
    ]
    with FakeHub(
        token=TOKEN, mappings={MODEL: mapping}, served={"together": {TOGETHER_ID}}
    ) as server:
        yield server


def test_auto_serves_the_whole_app_through_the_mapped_provider(
    tmp_path: Path, hub: FakeHub
) -> None:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        EMBEDDINGS_MODEL=MODEL,
        HF_ENDPOINT=hub.url,
        HF_ROUTER_URL=hub.router_url,
    )
    with TestClient(create_app(settings)) as client:
        config = client.get("/api/settings/embeddings").json()
        assert (config["provider"], config["hf_provider"]) == ("hf-inference", "auto")
        (job,) = ingest(client, _write(tmp_path, "otters.md", NOTE))
        assert job["status"] == "done", job
        hits = client.get("/api/search", params={"q": "sleeping otters"}).json()["results"]
        assert [h["filename"] for h in hits][:1] == ["otters.md"]
        check = client.post("/api/embeddings/check").json()
        assert check["ok"] is True
        assert (check["hf_provider"], check["provider_model_id"]) == ("together", TOGETHER_ID)
        page = client.post("/settings/check").text
        assert f"Served by together as {TOGETHER_ID}" in page
    posts = [r for r in hub.requests if r.method == "POST"]
    assert {r.path for r in posts} == {"/router/together/v1/embeddings"}
    assert all(r.json["model"] == TOGETHER_ID for r in posts)
    # The mapping is asked once for the process, though ingestion, search and check all embed.
    assert [r.method for r in hub.requests].count("GET") == 1


def _check(data: Path, **env: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    done = subprocess.run(
        [str(SEMSEARCH), "embeddings", "check", "--json"],
        env=child_env(data, HF_TOKEN=TOKEN, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert TOKEN not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def test_embeddings_check_reports_the_choice_and_each_disagreement(
    tmp_path: Path, hub: FakeHub
) -> None:
    served = {"EMBEDDINGS_MODEL": MODEL, "HF_ENDPOINT": hub.url, "HF_ROUTER_URL": hub.router_url}
    code, auto, _ = _check(tmp_path / "a", **served)
    assert code == 0 and auto["hf_provider"] == "together"
    assert "auto" in auto["hf_provider_reason"]
    code, explicit, _ = _check(tmp_path / "b", EMBEDDINGS_HF_PROVIDER="together", **served)
    assert (
        code == 0
        and explicit["hf_provider_reason"] == "EMBEDDINGS_HF_PROVIDER is set to 'together'"
    )
    hub.mappings["nomic-ai/chat-only"] = {
        "novita": {"status": "live", "providerId": "nomic", "task": "text-generation"}
    }
    code, unserved, _ = _check(
        tmp_path / "c", **{**served, "EMBEDDINGS_MODEL": "nomic-ai/chat-only"}
    )
    assert code == 1 and "served by no Inference Provider" in unserved["error"]

    with FakeHuggingFace(token=TOKEN) as tei:
        hub.endpoints["acme"] = [endpoint_item("e5", tei.url, "BAAI/bge-m3")]
        code, mismatch, _ = _check(
            tmp_path / "d",
            EMBEDDINGS_ENDPOINT=f"{tei.url}/embed",
            EMBEDDINGS_MODEL=MODEL,
            EMBEDDINGS_ENDPOINT_NAMESPACE="acme",
            HF_ENDPOINTS_API_URL=hub.endpoints_api_url,
        )
    assert code == 1 and "serves 'BAAI/bge-m3', not EMBEDDINGS_MODEL=" in mismatch["error"]


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
