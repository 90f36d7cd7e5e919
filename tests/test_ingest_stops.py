"""A setting at fault stops ingestion at once; the files it had not reached are not failed.

A refused token, missing credits, an unknown model or an unreachable endpoint would refuse every
file the same way. The command line stops after at most one refused request per cause and says
so once; the server keeps its queued uploads in the spool, "paused" with the reason, and ingests
them once the cause is gone (by itself after a wait, or at the restart with the setting fixed).
The Hugging Face cloud is the real loopback server of tests/fake_hf.py.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from embeddings.serverless import HFInferenceProvider
from ingest.jobs import JobManager
from ingest.models import SourceFile
from ingest.spool import UploadSpool
from tests.apphelpers import upload, wait_for_job
from tests.fake_hf import FakeHuggingFace
from tests.processes import SEMSEARCH, child_env, free_port
from tests.remote_support import FAST, hf_settings
from web.app import create_app
from web.services import open_services
from web.settings import Settings

pytestmark = pytest.mark.slow

TOKEN = "hf_right_token_for_the_stop_tests"
MODEL = "BAAI/bge-small-en-v1.5"
NOTES = {
    f"note{n}.md": f"# Note {n}\n\nGrain exports and harvest yields, part {n}.\n" for n in range(5)
}


@pytest.fixture
def hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN, known_models={MODEL}) as server:
        yield server


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text)
    return folder


def run_cli(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEMSEARCH), *args],
        env=child_env(data_dir, COLUMNS="200", **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def hf_env(hf: FakeHuggingFace, *, token: str = TOKEN, model: str = MODEL) -> dict[str, str]:
    return {"HF_TOKEN": token, "EMBEDDINGS_MODEL": model, "HF_INFERENCE_BASE_URL": hf.base_url}


CAUSES: dict[str, tuple[Callable[[FakeHuggingFace], dict[str, str]], str]] = {
    "refused token": (lambda hf: hf_env(hf, token="hf_wrong_token_for_the_tests"), "HF_TOKEN"),
    "no credits": (lambda hf: _out_of_credits(hf), "out of credits"),
    "unknown model": (lambda hf: hf_env(hf, model="nobody/no-such-model"), "EMBEDDINGS_MODEL"),
}


def _out_of_credits(hf: FakeHuggingFace) -> dict[str, str]:
    for _ in range(10):  # every request that comes would be refused
        hf.fail_next(402)
    return hf_env(hf)


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_the_cli_stops_after_one_refused_request(
    cause: str, tmp_path: Path, hf: FakeHuggingFace, notes: Path
) -> None:
    configure, named = CAUSES[cause]
    result = run_cli(tmp_path / "data", configure(hf), "ingest", str(notes))
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(hf.requests) == 1, [r.path for r in hf.requests]
    assert result.stderr.count("ingestion stopped") == 1, result.stderr
    assert named in result.stderr
    assert "5 of 5 files were not ingested" in " ".join(result.stderr.split())
    assert "failed" not in result.stdout.replace("0 failed", "")  # no file blamed for it


def test_the_cli_stops_at_an_unreachable_endpoint(tmp_path: Path, notes: Path) -> None:
    # A free port is a closed one: nothing listens there, so every connection is refused.
    endpoint = f"http://127.0.0.1:{free_port()}/embed"
    result = run_cli(tmp_path / "data", {"EMBEDDINGS_ENDPOINT": endpoint}, "ingest", str(notes))
    assert result.returncode == 1, result.stdout + result.stderr
    stderr = " ".join(result.stderr.split())
    assert stderr.count("ingestion stopped") == 1 and "cannot reach" in stderr, stderr
    assert "EMBEDDINGS_ENDPOINT" in stderr and "5 of 5 files were not ingested" in stderr


def _write_notes(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = [folder / name for name in NOTES]
    for path in paths:
        path.write_text(NOTES[path.name])
    return paths


def test_server_uploads_wait_paused_and_resume_once_the_token_is_fixed(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    data = tmp_path / "data"
    paths = _write_notes(tmp_path / "notes")
    wrong = Settings(SEMSEARCH_DATA_DIR=data, **hf_env(hf, token="hf_wrong_token_for_the_tests"))
    with TestClient(create_app(wrong)) as client:
        response = upload(client, *paths)
        assert response.status_code == 202, response.text
        submitted = response.json()["jobs"]
        assert len(submitted) == 5, submitted
        ended = ("paused", "done", "failed")  # a job that ends instead is reported at once
        jobs = [wait_for_job(client, job["id"], 60, until=ended) for job in submitted]
        assert all(j["status"] == "paused" and "HF_TOKEN" in j["error"] for j in jobs), jobs
        listed_jobs = client.get("/api/jobs").json()["jobs"]
        assert sorted(j["status"] for j in listed_jobs) == ["paused"] * 5, listed_jobs
        assert len(hf.requests) == 1  # one refused request, not one per file
        listed = client.get("/api/documents").json()["documents"]
        assert sorted(d["status"] for d in listed) == ["paused"] * 5
        health = client.get("/api/health").json()
        assert health["status"] == "degraded" and "HF_TOKEN" in health["ingestion_paused"]
        assert "paused" in client.get("/documents").text
    assert len(list((data / "incoming").glob("*.bin"))) == 5  # kept, not failed and deleted

    fixed = Settings(SEMSEARCH_DATA_DIR=data, **hf_env(hf))
    with TestClient(create_app(fixed)) as client:
        resumed = client.get("/api/jobs").json()["jobs"]  # queued again from the spool at start
        assert sorted(j["id"] for j in resumed) == sorted(j["id"] for j in submitted), resumed
        jobs = [wait_for_job(client, job["id"], 60) for job in resumed]
        assert [j["status"] for j in jobs] == ["done"] * 5, jobs
        assert sorted(j["filename"] for j in jobs) == sorted(NOTES)
        assert client.get("/api/health").json()["status"] == "ok"
        hits = client.get("/api/search", params={"q": "harvest yields"}).json()["results"]
        assert {h["filename"] for h in hits} <= set(NOTES) and hits
    assert list((data / "incoming").glob("*.bin")) == []


def test_paused_jobs_resume_by_themselves_when_the_cause_goes(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    provider = HFInferenceProvider(hf_settings(hf, token=SecretStr(TOKEN), model=MODEL), retry=FAST)
    spool = UploadSpool(tmp_path / "queued")
    with open_services(Settings(SEMSEARCH_DATA_DIR=tmp_path / "data"), embedder=provider) as app:
        jobs = JobManager(app.pipeline, spool=spool, pause_first_s=0.5)
        try:
            hf.fail_next(402)  # out of credits once, then topped up
            submitted = [
                jobs.submit(SourceFile(name, text.encode())) for name, text in NOTES.items()
            ]
            seen_paused = False
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = [jobs.get(job.id) for job in submitted]
                seen_paused |= any(s is not None and s.status == "paused" for s in states)
                if all(s is not None and s.status == "done" for s in states):
                    break
                time.sleep(0.02)
            else:
                raise AssertionError(f"the jobs did not resume: {states}")
            assert seen_paused and jobs.paused() is None
            assert list(spool.entries()) == []
        finally:
            jobs.shutdown()
            provider.close()
