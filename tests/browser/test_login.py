"""The pages in Chromium with SEMSEARCH_API_KEY set: log in through the form, then upload,
search, open "more like this", see the clusters, check the settings and delete with the
session (the pages' JavaScript sends the CSRF token), and log out. Its own server, with a
key; the browser is the suite's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from embeddings.threaded import serve_in_thread
from tests.apphelpers import build_pdf
from tests.browser.helpers import desktop_context, screenshot
from web.app import create_app
from web.login import SESSION_COOKIE
from web.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

KEY = "browser-login-key-93c1f0"
PHRASE = "Narwhals use their long spiral tusk to sense salt in the Arctic water"
OTHERS = (
    ("walrus.pdf", "Walruses haul out on Arctic sea ice to rest between their dives"),
    ("bread.pdf", "Knead the dough for ten minutes and bake the bread in a hot oven"),
    ("pasta.pdf", "Boil the pasta in salted water and toss it with tomato sauce"),
)


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF with one line of text: small, and independent of ../shared."""
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


@pytest.fixture(scope="module")
def keyed_server(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, local_provider: object
) -> Iterator[str]:
    """The whole app with an API key, on a free loopback port (after the browser: no server
    is started where Chromium is missing)."""
    data = tmp_path_factory.mktemp("browser-login-data")
    settings = Settings(SEMSEARCH_DATA_DIR=data, SEMSEARCH_API_KEY=KEY)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on", start_timeout_s=120) as url:
        yield url


@pytest.fixture
def keyed_page(browser: Any, keyed_server: str) -> Iterator[Any]:
    context = desktop_context(browser, keyed_server)
    yield context.new_page()
    context.close()


def test_log_in_upload_search_delete_and_log_out(keyed_page: Any, tmp_path: Path) -> None:
    page = keyed_page
    page.goto("/upload")
    page.wait_for_url(re.compile(r"/login\?next=%2Fupload$"))
    screenshot(page, tmp_path, "login")
    assert page.locator("nav").count() == 0  # nothing to navigate to before logging in

    page.fill("#key", "not-the-key")
    page.click("#login-button")
    assert "That is not the key." in page.locator("#login-error").text_content()
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    page.fill("#key", KEY)
    page.click("#login-button")
    page.wait_for_url(re.compile(r"/upload$"))
    (session,) = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert KEY not in page.content()

    # The upload page's script posts to /api/documents and polls /api/jobs with the session.
    page.set_input_files(
        "#files",
        files=[
            {"name": name, "mimeType": "application/pdf", "buffer": tiny_pdf(text)}
            for name, text in (("narwhals.pdf", PHRASE), *OTHERS)
        ],
    )
    states = page.locator("#upload-list li.upload-item .state")
    finished = states.filter(has_text=re.compile(r"^(done|failed)"))
    # Waits through Playwright's own matchers, not wait_for_function: that one evaluates its
    # string with eval, which the pages' Content-Security-Policy forbids.
    expect(states).to_have_count(1 + len(OTHERS), timeout=180_000)
    expect(finished).to_have_count(1 + len(OTHERS), timeout=180_000)
    assert finished.count() == 1 + len(OTHERS)
    assert all(text.startswith("done") for text in states.all_text_contents())
    screenshot(page, tmp_path, "upload-logged-in")

    page.goto("/")
    page.fill("#q", "tusk of the narwhal")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/\?q=tusk"))
    assert "narwhals.pdf" in page.locator("li.hit").first.locator(".filename").text_content()
    screenshot(page, tmp_path, "search-logged-in")

    # More like this, and the clusters, with the session.
    page.locator("li.hit").first.locator("a.similar").click()
    page.wait_for_url(re.compile(r"/similar\?point="))
    assert "walrus.pdf" in page.locator("li.hit").first.locator(".filename").text_content()
    page.goto("/clusters")
    cards = page.locator(".cluster")
    assert cards.count() >= 2
    assert all(text.strip() for text in cards.locator("h2").all_text_contents())

    # The settings check posts its form (with the CSRF field) from script.
    page.goto("/settings")
    page.click("#check-button")
    page.locator("#check-result .ok").wait_for(timeout=60_000)

    page.goto("/documents")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.locator("#documents tbody tr", has_text="narwhals.pdf").locator("button.danger").click()
    page.wait_for_url(re.compile(r"/documents$"))
    assert len(dialogs) == 1
    assert page.locator("td.filename", has_text="narwhals.pdf").count() == 0

    page.click("#logout-button")
    page.wait_for_url(re.compile(r"/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    page.goto("/documents")
    page.wait_for_url(re.compile(r"/login\?next=%2Fdocuments$"))
