"""Answers: `POST /api/answer` (sources from the product's own search, the model's answer whole
or streamed as Server-Sent Events, its citations checked, and every way it can fail), and the
search page's "Ask" without JavaScript (`/?q=…&ask=1` renders the whole answer above the
results, each valid citation a link to its source, the model's text escaped; without ``ask``
the model is never called). The real model and Qdrant Edge; the chat model is FakeChat, a
loopback server speaking the router's wire format, so that what it was sent can be asserted
too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from embeddings.base import EmbeddingProvider
from ingest.models import SourceFile
from search.labels import Labels
from tests.fake_chat import FakeChat
from web.app import create_app
from web.services import open_services
from web.settings import Settings

TOKEN = "hf_answerTOKEN0123456789"
MODEL = "meta-llama/Llama-3.1-8B-Instruct:cheapest"
HARBOUR = (
    "The northern harbour closed on 3 March for the winter storms. Ships were sent south to "
    "the deep-water port until the ice broke up in April."
)
WHEAT = "Wheat exports rose by a tenth this year, after the drought in the plains ended."
QUESTION = "When did the northern harbour close?"


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(token=TOKEN, known_models={MODEL}) as fake:
        yield fake


@pytest.fixture
def client(
    tmp_path: Path, local_provider: EmbeddingProvider, chat: FakeChat
) -> Iterator[TestClient]:
    """The app holding harbour.txt (tagged ``ports``) and wheat.txt, answering through ``chat``
    as if it were the Hugging Face router."""
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path / "data",
        EMBEDDINGS_CACHE="off",
        HF_TOKEN=TOKEN,
        GENERATION_MODEL=MODEL,
        HF_ROUTER_URL=chat.url,
    )
    with open_services(settings, embedder=local_provider) as services:
        files = [
            SourceFile("harbour.txt", HARBOUR.encode(), Labels(tags=("ports",))),
            SourceFile("wheat.txt", WHEAT.encode()),
        ]
        assert [o.status for o in services.pipeline.ingest_many(files)] == ["done", "done"]
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:
        yield test_client


def events_of(text: str) -> list[tuple[str, Any]]:
    """(event, data) of each Server-Sent Event; comments are skipped."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        events.append((name, data))
    return events


def test_a_whole_answer_cites_its_sources_and_invented_numbers_are_removed(
    client: TestClient, chat: FakeChat
) -> None:
    chat.reply = "It closed on 3 March [1]. Exports rose [2]. Also [9]."
    response = client.post("/api/answer", json={"q": QUESTION, "k": 2})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "answered"
    assert body["answer"] == "It closed on 3 March [1]. Exports rose [2]. Also ."
    assert body["citations"] == [1, 2]
    assert [s["n"] for s in body["sources"]] == [1, 2]
    first = body["sources"][0]
    assert first["filename"] == "harbour.txt" and "3 March" in first["text"]
    assert first["url"] == f"/api/documents/{first['doc_id']}/file#page=1"
    assert body["model"] == MODEL
    assert body["timings"]["retrieval_ms"] >= 0 and body["timings"]["generation_ms"] >= 0
    (sent,) = chat.requests
    assert sent.json["model"] == MODEL and sent.json["stream"] is False
    system, user = sent.messages
    assert "only the numbered sources" in system["content"]
    assert '<source n="1" title="The northern harbour' in user["content"]
    assert 'file="harbour.txt" page="1">' in user["content"]
    assert HARBOUR[:40] in user["content"]
    assert user["content"].endswith(f"Question: {QUESTION}")


def test_a_streamed_answer_sends_sources_first_then_pieces_then_done(
    client: TestClient, chat: FakeChat
) -> None:
    chat.reply = "It closed on 3 March [1] [7]."
    response = client.post("/api/answer", json={"q": QUESTION, "k": 2, "stream": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(events[0][1]["sources"]) == 2
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == "It closed on 3 March [1] ."
    done = events[-1][1]
    assert (done["status"], done["citations"], done["model"]) == ("answered", [1], MODEL)
    assert chat.requests[0].json["stream"] is True


def test_accept_event_stream_asks_for_a_stream_too(client: TestClient) -> None:
    response = client.post(
        "/api/answer", json={"q": QUESTION}, headers={"Accept": "text/event-stream"}
    )
    assert events_of(response.text)[0][0] == "sources"


def test_nothing_retrieved_means_no_call(client: TestClient, chat: FakeChat) -> None:
    whole = client.post("/api/answer", json={"q": QUESTION, "tags": ["nowhere"]}).json()
    assert (whole["status"], whole["sources"], whole["citations"]) == ("no_sources", [], [])
    assert whole["answer"].startswith("No passage in the collection")
    streamed = events_of(
        client.post("/api/answer", json={"q": QUESTION, "tags": ["nowhere"], "stream": True}).text
    )
    assert [name for name, _ in streamed] == ["sources", "delta", "done"]
    assert streamed[-1][1]["status"] == "no_sources"
    floor = client.post("/api/answer", json={"q": QUESTION, "mode": "dense", "min_score": 0.99})
    assert floor.json()["status"] == "no_sources"
    assert chat.requests == []


def test_a_refusal_is_the_one_error_shape_naming_the_setting(
    client: TestClient, chat: FakeChat
) -> None:
    chat.fail_next(402)
    whole = client.post("/api/answer", json={"q": QUESTION})
    assert whole.status_code == 502
    error = whole.json()["error"]
    assert error["code"] == "generation_unavailable" and "out of credits" in error["message"]

    chat.fail_next(401)
    events = events_of(client.post("/api/answer", json={"q": QUESTION, "stream": True}).text)
    assert [name for name, _ in events] == ["sources", "error"]
    streamed = events[-1][1]["error"]
    assert streamed["status"] == 502 and "rejected HF_TOKEN" in streamed["message"]
    for text in (whole.text, json.dumps(events)):
        assert TOKEN not in text


def test_an_answer_broken_off_mid_stream_ends_with_an_error_event(
    client: TestClient, chat: FakeChat
) -> None:
    chat.reply = "It closed on 3 March for the storms [1]."
    chat.stream_trouble(3, "error")
    events = events_of(client.post("/api/answer", json={"q": QUESTION, "stream": True}).text)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "error"
    assert "".join(d["text"] for n, d in events if n == "delta") == "It closed on"
    assert "broke off the answer after 3 pieces" in events[-1][1]["error"]["message"]


def test_answers_off_say_how_to_turn_them_on(
    tmp_path: Path, local_provider: EmbeddingProvider
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "off", EMBEDDINGS_CACHE="off")
    with TestClient(create_app(settings, embedder=local_provider)) as off:
        response = off.post("/api/answer", json={"q": QUESTION})
        page = off.get("/?" + urlencode({"q": "anything", "ask": 1}))
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "generation_off" and "GENERATION_MODEL" in error["message"]
    assert page.status_code == 503
    assert "set GENERATION_MODEL" in _panel(page.text)


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


def test_a_link_from_another_site_does_not_spend_a_call(client: TestClient, chat: FakeChat) -> None:
    chat.reply = "It closed on 3 March [1]."
    url = "/?" + urlencode({"q": QUESTION, "ask": 1})
    response = client.get(url, headers={"Sec-Fetch-Site": "cross-site", "Accept": "text/html"})
    assert response.status_code == 200
    assert "press Ask to get one" in _panel(response.text)
    assert response.text.count('<li class="hit">') == 2
    assert chat.requests == []
    own = client.get(url, headers={"Sec-Fetch-Site": "same-origin", "Accept": "text/html"})
    assert '3 March <a class="cite" href="#answer-source-1">[1]</a>.' in _panel(own.text)
    assert len(chat.requests) == 1
