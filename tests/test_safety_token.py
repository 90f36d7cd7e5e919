"""The HF token never reaches a page, an API response or a log line.

A distinctive token is configured against the fake Hugging Face server (tests/fake_hf.py, the
only fake), every page and every GET /api route is fetched (walked from the app's routes, so a
new one is covered), the embeddings fail in several ways whose error bodies echo the token
back, and everything the app said is searched: response bodies and headers, log records at
DEBUG from every logger, and the output of real `semsearch serve` and `semsearch embeddings
check` processes.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.apphelpers import ingest, wait_for_job
from tests.fake_chat import FakeChat
from tests.fake_hf import FakeHuggingFace
from tests.processes import SEMSEARCH, ServerProcess, child_env
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

TOKEN = "hf_LeakCanary7c1e9b2a4d6f8e0a3b5c"
#: Enough of it to use or to recognise; the masked form shows only "hf_" and the length.
FRAGMENTS = (TOKEN, TOKEN[3:], TOKEN[-12:])
NOTE = b"# Zebras\n\nZebras live in herds on the savanna and move north in the dry season.\n"
ECHO = {"error": f"Invalid credentials in Authorization header: Bearer {TOKEN}"}


def assert_no_token(where: str, text: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"the token reached {where}: {text[:2000]}"


@pytest.fixture
def hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=TOKEN) as server:
        yield server


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    """The chat model answers come from, answering to the same token."""
    with FakeChat(token=TOKEN) as server:
        yield server


def remote_settings(data: Path, hf: FakeHuggingFace) -> dict[str, str]:
    return {
        "SEMSEARCH_DATA_DIR": str(data),
        "HF_TOKEN": TOKEN,
        "HF_INFERENCE_BASE_URL": hf.base_url,
        "EMBEDDINGS_CACHE": "off",
    }


def get_routes(client: TestClient, ids: dict[str, str]) -> list[str]:
    """Every GET route of the app (pages and /api), path parameters filled from ``ids``."""
    paths = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route.original_route, APIRoute) and "GET" in (route.methods or ()):
            paths.append(re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], route.path or ""))
    return paths


# Query strings some GET routes need to do real work rather than answer 422.
QUERIES = {
    "/api/search": "?q=zebras",
    "/": "?q=zebras",
    "/api/search/similar": "?point={point}",
    "/similar": "?point={point}",
}


def test_the_token_reaches_no_response_and_no_log_line(
    tmp_path: Path, hf: FakeHuggingFace, chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: semsearch, httpx, httpcore, uvicorn
    answers = {"GENERATION_MODEL": "leak/chat-model", "HF_ROUTER_URL": chat.url}
    settings = Settings(**remote_settings(tmp_path / "data", hf), **answers)  # type: ignore[arg-type]
    assert_no_token(
        "the settings' repr",
        repr(settings) + repr(settings.embeddings()) + repr(settings.generation()),
    )
    seen: list[tuple[str, httpx.Response]] = []
    with TestClient(create_app(settings)) as client:

        def call(method: str, url: str, **kwargs: object) -> httpx.Response:
            response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
            seen.append((f"{method} {url}", response))
            return response

        (job,) = ingest(client, _write(tmp_path, "zebras.md", NOTE))
        assert job["status"] == "done", job
        hit = call("GET", "/api/search?q=zebras&group=false").json()["results"][0]
        ids = {"doc_id": job["doc_id"], "job_id": job["id"], "point": hit["point_id"]}

        paths = get_routes(client, ids)
        assert {"/", "/settings", "/api/settings/embeddings", "/api/health"} <= set(paths)
        for path in paths:
            query = QUERIES.get(path, "").format(**ids)
            response = call("GET", path + query)
            assert response.status_code < 500, (path, response.text)
        call("POST", "/api/search", json={"q": "zebras"})
        assert call("POST", "/api/embeddings/check").json()["ok"] is True
        assert call("POST", "/api/generation/check").json()["ok"] is True
        assert call("POST", "/api/answer", json={"q": "zebras"}).json()["status"] == "answered"
        streamed = {"q": "zebras", "stream": True}
        assert "event: done" in call("POST", "/api/answer", json=streamed).text

        # The chat model's error paths, each echoing the token back.
        chat.fail_next(401, ECHO)
        assert call("POST", "/api/answer", json={"q": "zebras"}).status_code == 502
        chat.fail_next(403, ECHO)
        assert "event: error" in call("POST", "/api/answer", json=streamed).text
        for _ in range(5):  # every attempt of the default policy: the retries run out
            chat.fail_next(500, ECHO)
        assert call("POST", "/api/generation/check").json()["ok"] is False
        chat.fail_next(402, ECHO)
        assert "Connection failed" in call("POST", "/settings/generation-check").text

        # The error paths, each answered by a server that echoes the token back.
        hf.fail_next(401, ECHO)
        failed = call("GET", "/api/search?q=savanna")
        assert failed.status_code == 502 and "401" in failed.text, failed.text
        hf.fail_next(403, ECHO)
        check = call("POST", "/api/embeddings/check").json()
        assert check["ok"] is False and "403" in check["error"], check
        hf.fail_next(401, ECHO)
        page = call("POST", "/settings/check")
        assert "401" in page.text
        for _ in range(8):  # more than the retries: ingestion pauses, saying why
            hf.fail_next(500, ECHO)
        response = call("POST", "/api/documents", files=[("files", ("dry.md", b"# Dry\n\nno."))])
        (failing,) = response.json()["jobs"]
        deadline = time.monotonic() + 60
        while call("GET", f"/api/jobs/{failing['id']}").json()["status"] != "paused":
            assert time.monotonic() < deadline, "the job did not pause"
            time.sleep(0.05)
        assert "500" in call("GET", f"/api/jobs/{failing['id']}").json()["error"]
        call("GET", "/api/health")
        call("GET", "/api/jobs")
        call("GET", "/documents")
        call("GET", "/upload")

    assert len(seen) > len(paths)
    for where, response in seen:
        assert_no_token(f"the response to {where}", response.text)
        assert_no_token(f"the headers of {where}", str(response.headers))
    assert any(r.levelno >= logging.WARNING for r in caplog.records)  # errors were logged
    for record in caplog.records:
        assert_no_token(f"a log line of {record.name}", record.getMessage())
        assert_no_token(f"a logged error of {record.name}", str(record.exc_text or ""))
    assert_no_token("the captured log", caplog.text)
    # The fakes really were sent the token: it is there to be leaked.
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hf.requests)
    assert chat.requests and all(
        r.headers["authorization"] == f"Bearer {TOKEN}" for r in chat.requests
    )


def test_the_token_reaches_no_output_of_serve_or_embeddings_check(
    tmp_path: Path, hf: FakeHuggingFace
) -> None:
    env = child_env(tmp_path / "data", **remote_settings(tmp_path / "data", hf))
    hf.fail_next(401, ECHO)
    checked = subprocess.run(
        [str(SEMSEARCH), "embeddings", "check"], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 1 and "401" in checked.stderr, checked.stderr
    assert_no_token("`semsearch embeddings check`", checked.stdout + checked.stderr)
    hf.fail_next(403, ECHO)
    as_json = subprocess.run(
        [str(SEMSEARCH), "embeddings", "check", "--json"], env=env, capture_output=True, text=True
    )
    assert as_json.returncode == 1 and "403" in as_json.stdout, as_json.stdout
    assert_no_token("`semsearch embeddings check --json`", as_json.stdout + as_json.stderr)

    server = ServerProcess(env)
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            upload = http.post("/api/documents", files=[("files", ("zebras.md", NOTE))])
            (job,) = upload.json()["jobs"]
            assert wait_for_job(http, job["id"])["status"] == "done"  # type: ignore[arg-type]
            assert http.get("/api/search", params={"q": "zebras"}).status_code == 200
            hf.fail_next(401, ECHO)
            failed = http.get("/api/search", params={"q": "savanna"})
            assert failed.status_code == 502
            assert_no_token("a served error", failed.text)
            assert TOKEN not in http.get("/settings").text
    finally:
        output = server.stop()
    assert "embeddings: provider hf-inference" in output  # the log really is here
    assert_no_token("`semsearch serve` output", output)


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
