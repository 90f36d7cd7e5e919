"""Documents full of markup never run in the browser, on any page that shows their text.

Each payload, if it ever ran, would set ``window.__xss`` or open an alert; the pages are
checked in Chromium for both, for `javascript:` links and for event-handler attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import desktop_context, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WORD = "zebrafish"  # in every payload document, so one query finds them all
PAYLOADS = {
    "payload.txt": (
        f"{WORD} notes <script>window.__xss = 'txt'; alert('txt')</script> and "
        "<img src=x onerror=\"window.__xss = 'img'; alert(2)\"> then "
        "<a href=\"javascript:window.__xss='link'\">click</a> <svg onload=alert(3)> "
        "</p></li></ol><script>alert(4)</script> javascript:alert(5) onerror= onload="
    ),
    "payload.md": (
        f"# <img src=x onerror=alert('title')> {WORD} heading\n\n"
        "<script>window.__xss = 'md'</script>\n\n"
        "[click me](javascript:window.__xss='mdlink') and <b onmouseover=alert(6)>bold</b>\n\n"
        f"More {WORD} text: `<iframe src=javascript:alert(7)>` <svg/onload=alert(8)>\n"
    ),
    "payload.html": (
        "<html><head><title>&lt;script&gt;alert('title')&lt;/script&gt; "
        f"{WORD}</title></head><body>"
        f"<h1>&lt;img src=x onerror=alert(9)&gt; {WORD} page</h1>"
        "<p>&lt;script&gt;window.__xss='html'&lt;/script&gt; javascript:alert(10)</p>"
        "<script>window.__xss='raw'</script><a href=\"javascript:alert(11)\">link</a>"
        "<img src=x onerror=alert(12)></body></html>"
    ),
}
MIMES = {".txt": "text/plain", ".md": "text/markdown", ".html": "text/html"}
# What a page must never contain once it has loaded: any sign that a payload ran or survived
# as live markup.
INSPECT = """() => ({
  flag: typeof window.__xss === "undefined" ? null : String(window.__xss),
  jsLinks: Array.from(document.querySelectorAll("[href], [src], [action]"))
    .map((e) => e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action"))
    .filter((v) => /^\\s*javascript:/i.test(v)),
  handlers: Array.from(document.querySelectorAll("*")).flatMap((e) =>
    Array.from(e.attributes).filter((a) => /^on/i.test(a.name))
      .map((a) => e.tagName + " " + a.name)),
  scripts: Array.from(document.scripts).map((s) => s.getAttribute("src") || "inline"),
  foreign: document.querySelectorAll("main img, main svg:not(.map), main iframe, main b").length,
})"""


@pytest.fixture(scope="module")
def dialogs() -> list[str]:
    return []


@pytest.fixture(scope="module")
def hostile(browser: Any, server: str, dialogs: list[str]) -> Iterator[Any]:
    """A page that records every dialog; the payload files are uploaded through its file input."""
    context = desktop_context(browser, server)
    page = context.new_page()

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto("/upload")
    page.set_input_files(
        "#files",
        files=[
            {"name": name, "mimeType": MIMES[Path(name).suffix], "buffer": text.encode()}
            for name, text in PAYLOADS.items()
        ],
    )
    # Playwright's matchers, not wait_for_function, whose eval the pages' CSP forbids.
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^Finished"), timeout=120_000)
    yield page
    context.close()


def assert_inert(page: Any, where: str) -> None:
    found = page.evaluate(INSPECT)
    assert found["flag"] is None, (where, found)
    assert found["jsLinks"] == [], (where, found)
    assert found["handlers"] == [], (where, found)
    assert all(s.startswith("/static/") for s in found["scripts"]), (where, found)
    assert found["foreign"] == 0, (where, found)


def test_payload_files_upload_and_their_names_show_as_text(
    hostile: Any, dialogs: list[str]
) -> None:
    summary = hostile.locator("#upload-summary").text_content()
    assert summary.startswith("Finished: 3 done, 0 failed"), summary
    assert_inert(hostile, "/upload")
    assert dialogs == []


def test_no_payload_runs_on_any_page(
    hostile: Any, server: str, dialogs: list[str], tmp_path: Path
) -> None:
    page = hostile
    page.goto(f"/?q={WORD}+script+onerror+javascript")
    assert_inert(page, "search")
    hits = page.locator("li.hit")
    assert hits.count() == 3
    text = page.locator("#results").inner_text()
    assert "<script>" in text and "onerror" in text  # shown, as text
    assert page.locator("#results mark", has_text="onerror").count() > 0
    screenshot(page, tmp_path, "xss-search")

    # The same query typed: the instant results are swapped in by the page's script.
    page.goto("/")
    page.locator("#q").press_sequentially(f"{WORD} onerror", delay=20)
    expect(page).to_have_url(re.compile(rf"q={WORD}\+onerror"))
    page.locator("#results li.hit").nth(2).wait_for()
    assert_inert(page, "instant search")

    similar = page.locator("a.similar").first.get_attribute("href")
    for path in (similar, "/documents", "/clusters", "/upload", "/settings"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert_inert(page, path)
    page.goto("/documents")
    assert re.search(r"<img src=x onerror=alert\(\S+\)> " + WORD, page.locator("main").inner_text())
    assert dialogs == []


def test_originals_are_served_so_that_they_cannot_run_in_the_app(
    hostile: Any, server: str, dialogs: list[str]
) -> None:
    """The stored HTML file itself, opened from a result, must not run as a page of the app."""
    documents = httpx.get(f"{server}/api/documents").json()["documents"]
    (html,) = [d for d in documents if d["filename"] == "payload.html"]
    response = httpx.get(f"{server}/api/documents/{html['doc_id']}/file")
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    policy = response.headers.get("content-security-policy", "")
    assert not content_type.startswith("text/html") or "sandbox" in policy, response.headers
    hostile.goto(f"/api/documents/{html['doc_id']}/file")
    hostile.wait_for_load_state("load")
    assert hostile.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
