"""The `semsearch` command line, run as a real subprocess as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search.results import SearchResponse
from tests.apphelpers import TRACEMONKEY, TRACEMONKEY_PAGE, TRACEMONKEY_PHRASE
from tests.fake_rerank import FakeRerankServer

pytestmark = pytest.mark.slow

SEMSEARCH = Path(sys.executable).parent / "semsearch"


def run(data_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SEMSEARCH_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    for name in ("HF_TOKEN", "EMBEDDINGS_ENDPOINT", "EMBEDDINGS_PROVIDER", "QDRANT_URL"):
        env.pop(name, None)
    for name in [name for name in env if name.startswith("RERANK_")]:
        env.pop(name)
    env.update(extra_env)
    return subprocess.run(
        [str(SEMSEARCH), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_ingest_search_list_delete(tmp_path: Path, eval_pdfs: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / TRACEMONKEY).write_bytes((eval_pdfs / TRACEMONKEY).read_bytes())
    (folder / "notes.md").write_text("# Notes\n\nQdrant Edge runs inside the process.\n")
    (folder / "ignored.bin").write_bytes(b"\x00\x01")

    ingested = run(data, "ingest", str(folder))
    assert ingested.returncode == 0, ingested.stderr
    assert "2 of 2 files ingested, 0 failed" in ingested.stdout
    assert "search index built in" in ingested.stderr  # new writes indexed, graph and int8

    searched = run(data, "search", TRACEMONKEY_PHRASE, "--json", "--flat", "-k", "3")
    assert searched.returncode == 0, searched.stderr
    body = json.loads(searched.stdout)
    assert set(body) == set(SearchResponse.model_fields)  # the documented shape, whole
    assert body["reranked"] is False and body["rerank_error"] is None  # none configured
    assert [hit["filename"] for hit in body["results"]] == [TRACEMONKEY] * 3
    assert TRACEMONKEY_PAGE in [hit["page"] for hit in body["results"]]

    listed = json.loads(run(data, "documents", "--json").stdout)["documents"]
    assert sorted(d["filename"] for d in listed) == ["notes.md", TRACEMONKEY]
    tracemonkey = next(d for d in listed if d["filename"] == TRACEMONKEY)

    deleted = run(data, "delete", tracemonkey["doc_id"][:10])
    assert deleted.returncode == 0, deleted.stderr
    left = json.loads(run(data, "documents", "--json").stdout)["documents"]
    assert [d["filename"] for d in left] == ["notes.md"]


def test_ingest_reports_failures_with_the_reason_and_exits_non_zero(
    tmp_path: Path, eval_pdfs: Path
) -> None:
    result = run(
        tmp_path / "data", "ingest", str(eval_pdfs / "broken.pdf"), str(tmp_path / "missing.pdf")
    )
    assert result.returncode == 1
    assert "broken.pdf" in result.stdout and "corrupt" in result.stdout.lower()
    assert "missing.pdf: no such file or folder" in result.stderr
    assert "0 of 1 files ingested, 1 failed" in result.stdout


def test_a_second_process_on_the_same_folder_gets_a_clear_message(tmp_path: Path) -> None:
    from search.factory import open_store
    from search.store import CollectionInfo

    data = tmp_path / "data"
    store = open_store(data_dir=data, qdrant_url=None, qdrant_api_key=None, collection="documents")
    store.ensure_collection(
        CollectionInfo(model="sentence-transformers/all-MiniLM-L6-v2", dimension=384)
    )
    try:
        result = run(data, "documents")
    finally:
        store.close()
    assert result.returncode == 2
    assert "another semsearch process" in result.stderr
    assert "WouldBlock" not in result.stderr


def test_embeddings_check_tests_the_reranker_too(tmp_path: Path) -> None:
    with FakeRerankServer() as tei:
        endpoint = f"{tei.url}/rerank"
        checked = run(tmp_path / "data", "embeddings", "check", RERANK_ENDPOINT=endpoint)
        assert checked.returncode == 0, checked.stderr
        assert "ok: local" in checked.stdout
        assert "ok: reranker endpoint (RERANK_ENDPOINT is set)" in checked.stdout
        assert len(tei.requests) == 1
        tei.model_type = "embedding"
        failed = run(tmp_path / "data", "embeddings", "check", "--json", RERANK_ENDPOINT=endpoint)
    assert failed.returncode == 1
    body = json.loads(failed.stdout)
    assert body["ok"] is True, "the embeddings part still works"
    assert body["rerank"]["ok"] is False
    assert "not a re-ranker" in body["rerank"]["error"]
