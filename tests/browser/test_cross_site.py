"""A page of another site, open in the user's browser, cannot write into semsearch.

The attacker's page is served by a second server on another port of 127.0.0.1 (another
origin, the same site), as a page a user might open while semsearch runs without a key. It
sends a multipart upload to the API and the documents page's delete form with ``fetch`` in
``no-cors`` mode (requests a browser sends without asking the server first), and submits the
delete form itself. (A ``DELETE`` from another origin needs a CORS preflight, which the app
never grants, so the browser does not even send it.) Chromium sends each with
``Sec-Fetch-Site: same-site``; the app refuses all three, and nothing is uploaded or deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from embeddings.threaded import serve_in_thread
from tests.apphelpers import wait_for_job
from tests.browser.helpers import desktop_context

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ATTACK = """<!doctype html><html><body>
<form id="upload" method="post" enctype="multipart/form-data" action="{target}/api/documents">
  <input type="hidden" name="tags" value="planted">
</form>
<form id="delete" method="post" action="{target}/documents/{doc_id}/delete">
  <input type="hidden" name="confirm" value="yes">
</form>
<script>
  const file = new File(["planted by another site"], "planted.txt", {{type: "text/plain"}});
  const data = new FormData(document.getElementById("upload"));
  data.append("files", file);
  window.results = Promise.all([
    fetch("{target}/api/documents", {{method: "POST", body: data, mode: "no-cors"}})
      .then(() => "sent", e => "error " + e),
    fetch("{target}/documents/{doc_id}/delete", {{
      method: "POST", mode: "no-cors", body: new URLSearchParams({{confirm: "yes"}}),
    }}).then(() => "sent", e => "error " + e),
  ]);
</script>
</body></html>"""


@pytest.fixture
def stored(server: str) -> Iterator[str]:
    """A document uploaded the legitimate way (no browser: no Origin, no Sec-Fetch-Site)."""
    files = [("files", ("kept.txt", b"A note the other site tries to delete."))]
    with httpx.Client(base_url=server, timeout=60) as client:
        job = client.post("/api/documents", files=files).json()["jobs"][0]
        job = wait_for_job(client, job["id"])  # type: ignore[arg-type]
        assert job["status"] == "done", job
        yield job["doc_id"]


def attacker(target: str, doc_id: str) -> Starlette:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(ATTACK.format(target=target, doc_id=doc_id))

    return Starlette(routes=[Route("/", page)])


def documents(server: str) -> list[dict[str, Any]]:
    return httpx.get(f"{server}/api/documents", timeout=30).json()["documents"]


def test_another_origin_can_neither_upload_nor_delete(
    browser: Any, server: str, stored: str
) -> None:
    before = {d["doc_id"] for d in documents(server)}
    with serve_in_thread(attacker(server, stored)) as evil:
        assert evil.rsplit(":", 1)[1] != server.rsplit(":", 1)[1]  # another port: another origin
        context = desktop_context(browser, evil)
        page = context.new_page()
        answered: list[tuple[int, str]] = []  # every response of semsearch the page got
        page.on(
            "response",
            lambda r: answered.append((r.status, r.url)) if r.url.startswith(server) else None,
        )
        page.goto(evil)
        assert page.evaluate("window.results") == ["sent", "sent"]  # the browser did send them
        with page.expect_navigation():
            page.evaluate("document.getElementById('delete').submit()")
        assert "a page of another site cannot change anything here" in page.content()
        context.close()
    # The three requests (two fetches and the form), each refused; nothing else was answered.
    assert sorted(status for status, _ in answered) == [403, 403, 403], answered
    after = documents(server)
    assert {d["doc_id"] for d in after} == before  # nothing planted, nothing deleted
    assert stored in {d["doc_id"] for d in after}
    assert not any("planted" in d["tags"] for d in after)
    jobs = httpx.get(f"{server}/api/jobs", timeout=30).json()["jobs"]
    assert not any(job["filename"] == "planted.txt" for job in jobs)


@pytest.mark.usefixtures("stored")  # the note the search below finds
def test_the_pages_own_scripts_run_under_their_policy(browser: Any, server: str) -> None:
    """The search page's script (instant search) works under the page's
    Content-Security-Policy, which the browser enforces (Playwright bypasses it only in a
    context made with ``bypass_csp=True``, and none here is), and no violation is reported."""
    context = desktop_context(browser, server)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    response = page.goto("/")
    assert response is not None
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    page.locator("#q").press_sequentially("note delete", delay=20)
    page.locator("#results li.hit").first.wait_for()  # fetched and swapped in by search.js
    assert "q=note+delete" in page.url
    page.goto("/upload")
    page.goto("/documents")
    context.close()
    assert not [m for m in messages if "Content Security Policy" in m], messages
