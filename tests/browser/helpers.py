"""Helpers of the browser tests: screenshots a person can look at, and API setup."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx

# Screenshots are also copied here, so that a person can look at them after the run.
SCREENS = Path("/tmp/semsearch-screens")


def desktop_context(browser: Any, base_url: str) -> Any:
    """A fresh 1280x900 browser context whose relative URLs go to ``base_url``; each step waits
    at most 20 s unless it says otherwise. The caller closes it."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page screenshot under ``folder`` and copy it to /tmp/semsearch-screens."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / path.name)
    return path


def api_ingest(server: str, files: dict[str, bytes], timeout: float = 120.0) -> list[dict]:
    """Upload through the API and wait until every job ends (setup for the page flows)."""
    response = httpx.post(
        f"{server}/api/documents",
        files=[("files", (name, data)) for name, data in files.items()],
        timeout=60,
    )
    assert response.status_code == 202, response.text
    jobs: list[dict] = []
    deadline = time.monotonic() + timeout
    for job in response.json()["jobs"]:
        while True:
            state = httpx.get(f"{server}/api/jobs/{job['id']}", timeout=10).json()
            if state["status"] in ("done", "failed"):
                jobs.append(state)
                break
            assert time.monotonic() < deadline, f"job {job['id']} did not finish"
            time.sleep(0.1)
    return jobs
