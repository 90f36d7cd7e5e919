"""The pages in Chromium: drag-and-drop upload of real PDFs, instant search, more like this,
sorting and deleting documents, the cluster map, the settings check, and phone width.

One server and one browser for the module; the PDFs are uploaded once, through the page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.apphelpers import TOPIC_TEXTS, TRACEMONKEY, TRACEMONKEY_PAGE, TRACEMONKEY_PHRASE
from tests.browser.helpers import api_ingest, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SOLAR = "solar-cell-paper.pdf"
# Dispatches a real `drop` event on the drop zone, carrying Files built from base64 bytes.
DROP_FILES = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, b64, type] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  const zone = document.getElementById("dropzone");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true,
                                             cancelable: true }));
  }
}"""


@pytest.fixture(scope="module")
def uploaded(browser: Any, server: str, eval_pdfs: Path) -> Iterator[dict[str, Any]]:
    """Two real PDFs dropped on /upload; waits until both rows say done, then the summary."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/upload")
    files = [
        [name, base64.b64encode((eval_pdfs / name).read_bytes()).decode(), "application/pdf"]
        for name in (TRACEMONKEY, SOLAR)
    ]
    page.evaluate(DROP_FILES, [files])
    rows = page.locator("#upload-list li.upload-item")
    rows.nth(1).wait_for()
    states = [rows.nth(i).locator(".state") for i in range(2)]
    seen_progress = set()
    for state in states:
        for _ in range(600):
            text = state.text_content() or ""
            seen_progress.add(text.split(" ")[0])
            if text.startswith(("done", "failed")):
                break
            page.wait_for_timeout(200)
    summary = page.locator("#upload-summary").text_content()
    result = {
        "names": [rows.nth(i).locator(".name").text_content() for i in range(2)],
        "states": [s.text_content() for s in states],
        "summary": summary,
        "progress": seen_progress,
        "bars": [rows.nth(i).locator("progress").get_attribute("value") for i in range(2)],
        "page": page,
    }
    yield result
    context.close()


@pytest.fixture(scope="module")
def topics(server: str) -> list[dict]:
    """Four short texts on two topics, so that the cluster map has clusters to label."""
    jobs = api_ingest(server, {name: text.encode() for name, text in TOPIC_TEXTS.items()})
    assert all(job["status"] == "done" for job in jobs), jobs
    return jobs


def test_two_pdfs_dropped_on_the_upload_page_end_done(
    uploaded: dict[str, Any], tmp_path: Path
) -> None:
    assert uploaded["names"] == [TRACEMONKEY, SOLAR]
    assert all(state.startswith("done · ") for state in uploaded["states"]), uploaded["states"]
    assert re.search(r"\d+ chunks", uploaded["states"][0])
    assert uploaded["bars"] == ["100", "100"]
    assert uploaded["summary"].startswith("Finished: 2 done, 0 failed"), uploaded["summary"]
    screenshot(uploaded["page"], tmp_path, "upload-after")


def test_a_rejected_file_names_itself_on_the_upload_page(page: Any, tmp_path: Path) -> None:
    page.goto("/upload")
    page.set_input_files(
        "#files",
        files=[{"name": "program.txt", "mimeType": "text/plain", "buffer": b"MZ\x90\x00\x00\xff"}],
    )
    state = page.locator("#upload-list li.upload-item .state")
    state.filter(has_text="failed").wait_for()
    assert "program.txt" in (state.text_content() or "")
    assert page.locator("#upload-summary").text_content().startswith("Finished: 0 done, 1 failed")


def test_a_folder_uploads_its_supported_files_by_path(page: Any, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n")
    (folder / "sub" / "owls.txt").write_text("Barn owls hunt at night over open fields.\n")
    (folder / "drawing.svg").write_text("<svg/>")
    (folder / ".hidden" / "secret.txt").write_text("never sent")
    page.goto("/upload")
    page.set_input_files("#folder", str(folder))
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^Finished"))
    names = page.locator("#upload-list .name").all_text_contents()
    assert sorted(names) == ["notes/otters.md", "notes/sub/owls.txt"]
    summary = page.locator("#upload-summary").text_content()
    assert summary.startswith("Finished: 2 done, 0 failed, 1 skipped"), summary


def test_search_finds_the_page_and_more_like_this_opens(
    page: Any, uploaded: dict[str, Any], tmp_path: Path
) -> None:
    page.goto("/")
    page.fill("#q", TRACEMONKEY_PHRASE)
    page.keyboard.press("Enter")  # the plain form, as without JavaScript
    page.wait_for_url(re.compile(r"/\?q=Move"))
    first = page.locator("li.hit").first
    assert TRACEMONKEY in first.locator(".filename").text_content()
    pages = [int(p) for p in re.findall(r"page (\d+)", first.inner_text())]
    assert TRACEMONKEY_PAGE in pages[:3], pages
    assert first.locator("mark").count() > 0
    href = first.locator("h2 a").get_attribute("href")
    assert href.endswith(f"/file#page={pages[0]}")
    screenshot(page, tmp_path, "search-results")

    first.locator("a.similar").click()
    page.wait_for_url(re.compile(r"/similar\?point="))
    assert page.locator("h1.similar").text_content() == "More like this passage"
    assert page.locator("li.hit").count() >= 1


def test_instant_search_updates_results_and_the_url_as_you_type(
    page: Any, uploaded: dict[str, Any], tmp_path: Path
) -> None:
    page.goto("/")
    screenshot(page, tmp_path, "search-home")
    page.evaluate("window.__samePage = true")  # a full navigation would drop it
    page.locator("#q").press_sequentially("solar cell efficiency", delay=30)
    page.locator("#results li.hit").first.wait_for()
    expect(page).to_have_url(re.compile(r"q=solar\+cell\+efficiency"))
    assert page.evaluate("window.__samePage") is True
    assert SOLAR in page.locator("#results li.hit .filename").first.text_content()
    assert re.match(r"\d+ results?", page.locator("#search-status").text_content())

    # Typing on replaces the results: the tracemonkey paper now comes first.
    page.fill("#q", "")
    page.locator("#q").press_sequentially("trace trees tracing JIT", delay=20)
    expect(page).to_have_url(re.compile(r"trace\+trees"))
    expect(page.locator("#results li.hit .filename").first).to_contain_text("tracemonkey")
    assert page.evaluate("window.__samePage") is True

    # Keyboard: ↓ walks the result titles, ↑ goes back to the box, `/` focuses the box.
    page.locator("#q").press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('li.hit') !== null")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "q"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"

    # A query nothing matches in keyword mode says so.
    page.select_option("#mode", "keyword")
    page.fill("#q", "xylophonequasar")
    expect(page).to_have_url(re.compile(r"mode=keyword"))
    page.locator("#results .empty").wait_for()
    assert "Nothing matched" in page.locator("#results .empty").text_content()
    # The shared URL gives the same page without JavaScript's help.
    assert httpx.get(page.url).text.count('class="empty"') == 1
    screenshot(page, tmp_path, "search-instant")


def test_documents_sort_filter_and_delete_with_confirmation(
    page: Any, server: str, uploaded: dict[str, Any], topics: list[dict], tmp_path: Path
) -> None:
    (doomed,) = api_ingest(
        server, {"doomed-notes.md": b"# Walrus migration\n\nWalruses haul out on Arctic ice."}
    )
    assert doomed["status"] == "done"
    search = httpx.get(f"{server}/api/search", params={"q": "walrus arctic ice", "k": 3}).json()
    assert search["results"][0]["filename"] == "doomed-notes.md"

    page.goto("/documents")
    screenshot(page, tmp_path, "documents")
    # The Delete column in view on a desktop, not clipped by the table's scrolling box.
    box = page.locator("button.danger").first.bounding_box()
    wrap = page.locator(".table-wrap").bounding_box()
    assert box and wrap and box["x"] + box["width"] <= wrap["x"] + wrap["width"]
    names = page.locator("#documents tbody tr td.filename")
    page.locator('th[data-sort="size"] a').click()
    assert page.locator('th[data-sort="size"]').get_attribute("aria-sort") == "ascending"
    sizes = [
        int(s)
        for s in page.locator("#documents tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.size)"
        )
    ]
    assert sizes == sorted(sizes) and len(sizes) >= 7
    page.locator('th[data-sort="size"] a').click()
    assert names.first.text_content() == SOLAR  # the largest file
    assert "sort=size&order=desc" in page.url

    page.fill("#name-filter", "doomed")
    assert page.locator("#documents tbody tr:not([hidden])").count() == 1
    assert page.locator("#shown-count").text_content().startswith("1 of ")

    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", answer)
    row = page.locator("#documents tbody tr:not([hidden])")
    row.locator("button.danger").click()  # dismissed: nothing happens
    assert page.locator("td.filename", has_text="doomed-notes.md").count() == 1
    row.locator("button.danger").click()
    page.wait_for_url(re.compile(r"/documents$"))
    assert len(dialogs) == 2 and "Walrus migration" in dialogs[0]
    assert page.locator("td.filename", has_text="doomed-notes.md").count() == 0

    page.goto("/?q=walrus+arctic+ice")
    assert "doomed-notes.md" not in page.locator("#results").inner_text()


def test_cluster_map_and_labelled_cards(
    page: Any, server: str, topics: list[dict], uploaded: dict[str, Any], tmp_path: Path
) -> None:
    stored = httpx.get(f"{server}/api/documents").json()["documents"]
    page.goto("/clusters?k=3")
    cards = page.locator("section.cluster")
    assert cards.count() == 3
    labels = [cards.nth(i).locator("h2").text_content().strip() for i in range(3)]
    assert all(labels), labels
    text = page.locator(".clusters").inner_text().lower()
    assert "cooking" in text or "italian" in text or "parmesan" in text
    points = page.locator("svg#map a.point")
    assert points.count() == len([d for d in stored if d["status"] == "done"]) >= 6
    points.first.hover()
    tip = page.locator("#map-tip").text_content()
    assert tip and tip == points.first.get_attribute("data-name")
    assert points.first.locator("title").text_content() == tip
    screenshot(page, tmp_path, "clusters")

    page.select_option("#k", "auto")  # choosing re-clusters at once
    page.wait_for_url(re.compile(r"k=auto"))
    assert "chosen automatically" in page.locator("main").inner_text()

    href = points.first.get_attribute("href")
    with page.expect_response(re.compile(r"/api/documents/.+/file")) as opened:
        points.first.click()
    assert opened.value.status == 200, href


def test_settings_test_connection_in_place(
    page: Any, uploaded: dict[str, Any], tmp_path: Path
) -> None:
    page.goto("/settings")
    page.evaluate("window.__samePage = true")
    assert "local" in page.locator("dl.settings").first.inner_text()
    page.click("#check-button")
    page.locator("#check-result .ok").wait_for()
    assert "384-dimensional" in page.locator("#check-result").text_content()
    assert page.evaluate("window.__samePage") is True
    stats = page.locator("#collection-stats").inner_text()
    assert re.search(r"Documents\s+\d+", stats) and "application/pdf" in stats
    screenshot(page, tmp_path, "settings")


def test_phone_width_keeps_every_page_usable(
    browser: Any, server: str, uploaded: dict[str, Any], tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=server, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    try:
        for path, name in (
            ("/?q=trace+trees", "phone-search"),
            ("/documents", "phone-documents"),
            ("/upload", "phone-upload"),
            ("/clusters", "phone-clusters"),
        ):
            page.goto(path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
            screenshot(page, tmp_path, name)
        page.goto("/documents")
        box = page.locator("button.danger").first.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, box  # Delete fits on screen
    finally:
        context.close()
