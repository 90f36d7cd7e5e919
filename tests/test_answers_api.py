"""`POST /api/answer`: sources from the product's own search, the model's answer (whole or
streamed as Server-Sent Events) with its citations checked, and every way it can fail. The real
model and Qdrant Edge; the chat model is FakeChat, a loopback server speaking the router's wire
format, so that what it was sent can be asserted too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embeddings.base import EmbeddingProvider
from tests.answer_support import HARBOUR, MODEL, QUESTION, TOKEN, answering_client
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
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "generation_off" and "GENERATION_MODEL" in error["message"]
