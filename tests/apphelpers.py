"""Helpers for driving the real app through HTTP in tests."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

# Re-exported for the tests that import it from here; built in tests/hostile_inputs.py.
from tests.hostile_inputs import build_pdf as build_pdf

# A phrase from page 5 of tracemonkey-pldi09.pdf (read with pypdf), and its page.
TRACEMONKEY = "tracemonkey-pldi09.pdf"
TRACEMONKEY_PHRASE = (
    "Move instructions need to be recorded for function entry and exit to copy arguments in "
    "and return values out"
)
TRACEMONKEY_PAGE = 5


# Two cooking and two sport texts: clusters split them 2 + 2 (API and browser tests).
TOPIC_TEXTS = {
    "pasta.txt": "Boil the pasta in salted water. Tomato sauce with basil and garlic. "
    "Italian cooking, olive oil, parmesan cheese, recipes for dinner.",
    "risotto.txt": "Risotto needs arborio rice, stock, butter and parmesan cheese. "
    "Italian cooking recipes, stir the rice slowly, dinner with wine.",
    "football.txt": "The striker scored a goal in the final minute of the football match. "
    "The league table, the coach, the stadium and the fans.",
    "tennis.txt": "The tennis player won the match in straight sets at the stadium. "
    "Serve, volley, the coach, the tournament final and the fans.",
}


def upload(client: TestClient, *paths: Path) -> Any:
    files = [("files", (p.name, p.read_bytes())) for p in paths]
    return client.post("/api/documents", files=files)


def wait_for_job(
    client: TestClient,
    job_id: str,
    timeout: float = 120.0,
    until: Collection[str] = ("done", "failed"),
) -> dict[str, Any]:
    """Poll the job until its status is one of ``until`` (by default: it has ended)."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        if time.monotonic() >= deadline:
            raise AssertionError(f"job {job_id} was not {'/'.join(until)} in {timeout} s: {job}")
        time.sleep(0.05)


def ingest(client: TestClient, *paths: Path) -> list[dict[str, Any]]:
    response = upload(client, *paths)
    assert response.status_code == 202, response.text
    return [wait_for_job(client, job["id"]) for job in response.json()["jobs"]]


def assert_error_shape(body: dict[str, Any], status: int) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def ingest_texts(client: TestClient, corpus: dict[str, str]) -> None:
    """Upload these texts (filename -> text) in one request and wait until each is done."""
    files = [("files", (name, text.encode())) for name, text in corpus.items()]
    response = client.post("/api/documents", files=files)
    assert response.status_code == 202, response.text
    for job in response.json()["jobs"]:
        assert wait_for_job(client, job["id"])["status"] == "done"
