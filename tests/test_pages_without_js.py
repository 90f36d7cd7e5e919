"""The pages' plain-HTML paths, as a browser without JavaScript uses them: `/documents`
sorting and filtering by query string, and a delete that asks for confirmation first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.apphelpers import ingest
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data")
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def docs(client: TestClient, tmp_path: Path) -> dict[str, str]:
    files = {
        "alpha.txt": "Alpha notes about herons and egrets wading in the marsh.",
        "beta.md": "# Beta\n\n" + "Beavers build dams across slow rivers. " * 20,
    }
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(path)
    jobs = ingest(client, *paths)
    assert all(job["status"] == "done" for job in jobs), jobs
    return {job["filename"]: job["doc_id"] for job in jobs}


def rows(html: str) -> list[str]:
    return re.findall(r'<td class="filename">([^<]+)</td>', html)


def test_documents_sort_and_filter_by_query_string(
    client: TestClient, docs: dict[str, str]
) -> None:
    by_size = client.get("/documents", params={"sort": "size", "order": "asc"}).text
    assert rows(by_size) == ["alpha.txt", "beta.md"]
    assert 'aria-sort="ascending" data-sort="size"' in by_size
    # The active column's link reverses the order; the others start ascending.
    assert 'href="/documents?sort=size&amp;order=desc"' in by_size
    assert 'href="/documents?sort=name&amp;order=asc"' in by_size
    by_size_desc = client.get("/documents", params={"sort": "size", "order": "desc"}).text
    assert rows(by_size_desc) == ["beta.md", "alpha.txt"]
    filtered = client.get("/documents", params={"name": "ALPHA"}).text
    assert rows(filtered) == ["alpha.txt"] and "1 of 2 shown" in filtered
    none = client.get("/documents", params={"name": "zzz"}).text
    assert rows(none) == [] and "No document matches" in none
    assert client.get("/documents", params={"sort": "colour"}).status_code == 422


def test_delete_asks_first_then_deletes(client: TestClient, docs: dict[str, str]) -> None:
    doc_id = docs["alpha.txt"]
    asked = client.post(f"/documents/{doc_id}/delete", follow_redirects=False)
    assert asked.status_code == 200
    assert "Delete this document?" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert client.get(f"/api/documents/{doc_id}").status_code == 200  # not deleted yet
    done = client.post(
        f"/documents/{doc_id}/delete", data={"confirm": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/documents"
    assert client.get(f"/api/documents/{doc_id}").status_code == 404
    assert rows(client.get("/documents").text) == ["beta.md"]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_errors_as_a_page_and_the_api_as_json(client: TestClient) -> None:
    """A page request that fails (an unknown document, a bad query parameter) is answered with
    an HTML page saying why, at the same status; the API keeps its one JSON error shape."""
    headers = {"Accept": BROWSER_ACCEPT}
    missing = client.post("/documents/nope/delete", data={"confirm": ""}, headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no document with id &#39;nope&#39;" in missing.text
    assert '<nav aria-label="Main">' in missing.text
    bad_sort = client.get("/documents", params={"sort": "colour"}, headers=headers)
    assert bad_sort.status_code == 422
    assert bad_sort.headers["content-type"].startswith("text/html")
    assert "sort" in bad_sort.text
    api = client.get("/api/documents/nope", headers=headers)
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "document_not_found"
    script = client.post("/documents/nope/delete", data={"confirm": ""})  # Accept: */*
    assert script.status_code == 404 and script.json()["error"]["status"] == 404


def test_pages_cannot_be_framed_cached_or_given_foreign_scripts(client: TestClient) -> None:
    page = client.get("/documents")
    assert page.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    api = client.get("/api/documents")
    assert api.headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/static/style.css").headers
    assert "style=" not in page.text  # no inline style for the policy to block
