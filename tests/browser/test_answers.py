""" "Ask" on `/` in Chromium: the answer streams into its panel piece by piece, a citation opens
its passage, and neither an answer nor a passage full of markup ever runs. The real app, model
and Qdrant Edge; the chat model is FakeChat on loopback (an OpenAI-compatible endpoint), which
sends one word every 80 ms so that the stream can be seen arriving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from embeddings.threaded import serve_in_thread
from tests.browser.helpers import api_ingest, desktop_context, screenshot
from tests.fake_chat import FakeChat
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HARBOUR = (
    "The northern harbour closed on 3 March for the winter storms. Ships were sent south "
    "until the ice broke up in April."
)
# A document whose passage is itself hostile: shown as a source, it must stay text.
HOSTILE_NOTE = (
    "Harbour rumours <img src=x onerror=\"window.__xss='source'\"> said the harbour "
    "<script>window.__xss='source-script'</script> might close early."
)
QUESTION = "When did the northern harbour close?"
ANSWER = "The northern harbour closed on 3 March [1], for the winter storms [1]."
INSPECT = """() => ({
  flag: typeof window.__xss === "undefined" ? null : String(window.__xss),
  foreign: document.querySelectorAll("#answer img, #answer script, #answer b").length,
  handlers: Array.from(document.querySelectorAll("#answer *")).flatMap((e) =>
    Array.from(e.attributes).filter((a) => /^on/i.test(a.name)).map((a) => a.name)),
})"""


@pytest.fixture(scope="module")
def chat() -> Iterator[FakeChat]:
    with FakeChat(piece_interval_s=0.08) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, local_provider: object, chat: FakeChat
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("answers-data")
    settings = Settings(SEMSEARCH_DATA_DIR=data, GENERATION_ENDPOINT=chat.v1)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on", start_timeout_s=120) as url:
        jobs = api_ingest(
            url, {"harbour.txt": HARBOUR.encode(), "rumours.txt": HOSTILE_NOTE.encode()}
        )
        assert [job["status"] for job in jobs] == ["done", "done"], jobs
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = desktop_context(browser, server)
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    yield opened
    context.close()


def test_the_answer_streams_and_a_citation_opens_its_passage(
    page: Any, chat: FakeChat, tmp_path: Path
) -> None:
    chat.reply = ANSWER
    page.goto("/")
    page.fill("#q", QUESTION)
    page.click("#ask-button")

    panel = page.locator("#answer")
    expect(panel).to_be_visible()
    # Streamed: the first words show while the panel is still busy with the rest.
    expect(page.locator("#answer-text")).to_contain_text("The northern")
    expect(panel).to_have_attribute("aria-busy", "true")
    expect(page.locator("#answer-text")).to_have_text(ANSWER)
    expect(panel).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#answer-status")).to_have_text(re.compile(r"^from tgi · 2 sources$"))
    assert page.locator("#answer-text a.cite").count() == 2
    screenshot(page, tmp_path, "answer-streamed")

    (sent,) = chat.requests[-1:]
    assert sent.json["stream"] is True
    assert QUESTION in sent.messages[-1]["content"]

    page.locator("#answer-text a.cite").first.click()
    expect(page).to_have_url(re.compile(r"#answer-source-1$"))
    source = page.locator("#answer-source-1")
    expect(source).to_be_in_viewport()
    expect(source.locator(".passage")).to_contain_text("closed on 3 March")
    opener = source.locator("a.open")
    expect(opener).to_have_text("open at page 1")
    assert re.fullmatch(r"/api/documents/\w+/file#page=1", opener.get_attribute("href"))

    # A new query takes the old answer away.
    page.fill("#q", "wheat")
    expect(panel).to_be_hidden()
    assert page.dialogs == []


def test_an_answer_and_a_source_full_of_markup_stay_text(page: Any, chat: FakeChat) -> None:
    chat.reply = (
        "<script>window.__xss='answer'</script> <img src=x onerror=\"window.__xss='img'\"> "
        "<b onmouseover=alert(1)>bold</b> rumours [2] [7]"
    )
    page.goto("/")
    page.fill("#q", "harbour rumours close")
    page.click("#ask-button")
    expect(page.locator("#answer-status")).to_have_text(re.compile(r"^from tgi"))
    shown = page.locator("#answer-text").inner_text()
    assert shown.startswith("<script>window.__xss='answer'</script> <img src=x")
    assert "[7]" not in shown  # names no source: removed by the server
    assert page.locator("#answer-sources .passage", has_text="<img src=x onerror=").count() == 1
    found = page.evaluate(INSPECT)
    assert found == {"flag": None, "foreign": 0, "handlers": []}, found
    assert page.dialogs == []


def test_without_javascript_the_server_renders_the_answer(
    browser: Any, server: str, chat: FakeChat, tmp_path: Path
) -> None:
    chat.reply = ANSWER
    context = browser.new_context(base_url=server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        page.fill("#q", QUESTION)
        page.click("#ask-button")
        expect(page).to_have_url(re.compile(r"[?&]ask=1"))
        expect(page.locator("#answer-text")).to_have_text(ANSWER)
        screenshot(page, tmp_path, "answer-without-js")
        page.locator("#answer-text a.cite").first.click()
        expect(page).to_have_url(re.compile(r"#answer-source-1$"))
        expect(page.locator("#answer-source-1 .passage")).to_contain_text("closed on 3 March")
        assert chat.requests[-1].json["stream"] is False
    finally:
        context.close()


def test_a_refused_answer_says_why_in_the_panel(page: Any, chat: FakeChat) -> None:
    chat.fail_next(402)
    page.goto("/")
    page.fill("#q", QUESTION)
    page.click("#ask-button")
    status = page.locator("#answer-status")
    expect(status).to_have_text(re.compile(r"^The answer failed: .*out of credits"))
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#ask-button")).to_be_enabled()
    assert page.locator("#answer-text").inner_text() == ""


def test_a_request_refused_before_the_stream_says_why(page: Any, chat: FakeChat) -> None:
    asked = len(chat.requests)
    page.goto("/")
    page.fill("#q", QUESTION)
    page.click("details.filters summary")
    page.fill("input[name=meta]", "no-equals-sign")
    page.click("#ask-button")
    status = page.locator("#answer-status")
    expect(status).to_have_text(re.compile(r"^No answer: .*key=value"))
    expect(status).to_have_class(re.compile(r"\berror\b"))
    assert len(chat.requests) == asked
