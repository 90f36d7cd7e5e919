"""The search page's "Ask" without JavaScript: `/?q=…&ask=1` renders the whole answer above the
results, each valid citation a link to its source, the model's text escaped; a page without
``ask`` never calls the model. The real model and Qdrant Edge; the chat model is FakeChat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from embeddings.base import EmbeddingProvider
from tests.answer_support import MODEL, QUESTION, TOKEN, answering_client
from tests.fake_chat import FakeChat
from web.app import create_app
from web.settings import Settings


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(token=TOKEN, known_models={MODEL}) as fake:
        yield fake


@pytest.fixture
def client(
    tmp_path: Path, local_provider: EmbeddingProvider, chat: FakeChat
) -> Iterator[TestClient]:
    with answering_client(tmp_path / "data", local_provider, chat) as test_client:
        yield test_client


def _panel(html: str) -> str:
    match = re.search(r'<section id="answer".*?</section>', html, re.DOTALL)
    assert match, html
    return match.group(0)


def test_ask_renders_the_whole_answer_with_linked_citations(
    client: TestClient, chat: FakeChat
) -> None:
    chat.reply = 'It closed on 3 March [1]. <script>alert("x")</script> <b>bold</b> [9] [1, 2]'
    response = client.get("/?" + urlencode({"q": QUESTION, "ask": 1}))

    assert response.status_code == 200, response.text
    panel = _panel(response.text)
    assert " hidden" not in panel.split(">", 1)[0]
    assert 'It closed on 3 March <a class="cite" href="#answer-source-1">[1]</a>.' in panel
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in panel
    assert "<script>alert" not in panel and "[9]" not in panel
    assert '<a class="cite" href="#answer-source-2">[2]</a>' in panel  # a list, split in links
    source = re.search(r'<li class="source" id="answer-source-1">.*?</li>', panel, re.DOTALL)
    assert source, panel
    assert "harbour.txt" in source.group(0) and "3 March for the winter storms" in source.group(0)
    assert re.search(r'href="/api/documents/\w+/file#page=1">open at page 1</a>', source.group(0))
    assert f"from {MODEL}" in panel
    # The results are still the page's; the model was called once, with the page's filters.
    assert response.text.count('<li class="hit">') == 2
    (sent,) = chat.requests
    assert sent.json["stream"] is False
    assert sent.messages[-1]["content"].endswith(f"Question: {QUESTION}")


def test_the_answer_keeps_the_filters_and_without_ask_nothing_is_asked(
    client: TestClient, chat: FakeChat
) -> None:
    plain = client.get("/?" + urlencode({"q": QUESTION}))
    assert plain.status_code == 200
    assert " hidden" in _panel(plain.text).split(">", 1)[0]
    assert chat.requests == []

    filtered = client.get("/?" + urlencode({"q": QUESTION, "tags": "ports", "ask": 1}))
    assert filtered.status_code == 200
    (sent,) = chat.requests
    assert "harbour.txt" in sent.messages[-1]["content"]
    assert "wheat.txt" not in sent.messages[-1]["content"]

    nothing = client.get("/?" + urlencode({"q": QUESTION, "tags": "nowhere", "ask": 1}))
    assert "No passage in the collection matches" in _panel(nothing.text)
    assert len(chat.requests) == 1  # no source, no call


def test_a_failing_model_is_said_in_the_panel_with_its_status(
    client: TestClient, chat: FakeChat
) -> None:
    chat.fail_next(402)
    response = client.get("/?" + urlencode({"q": QUESTION, "ask": 1}))
    assert response.status_code == 502
    panel = _panel(response.text)
    assert 'class="meta status-line error"' in panel and "credits" in panel
    assert TOKEN not in response.text
    assert response.text.count('<li class="hit">') == 2  # the search itself still shows


def test_answers_off_say_how_to_turn_them_on(
    tmp_path: Path, local_provider: EmbeddingProvider
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "off", EMBEDDINGS_CACHE="off")
    with TestClient(create_app(settings, embedder=local_provider)) as off:
        response = off.get("/?" + urlencode({"q": "anything", "ask": 1}))
    assert response.status_code == 503
    assert "set GENERATION_MODEL" in _panel(response.text)
