"""`semsearch ask` as a user runs it: a real process, the bundled model, Qdrant Edge, and the
chat model faked by FakeChat on loopback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.base import EmbeddingProvider
from tests.fake_chat import FakeChat
from tests.processes import SEMSEARCH, child_env
from web.services import open_services
from web.settings import Settings

pytestmark = pytest.mark.slow

TOKEN = "hf_askTOKEN0123456789"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
HARBOUR = "The northern harbour closed on 3 March for the winter storms."


@pytest.fixture
def data(tmp_path: Path, local_provider: EmbeddingProvider) -> Path:
    folder = tmp_path / "data"
    settings = Settings(SEMSEARCH_DATA_DIR=folder, EMBEDDINGS_CACHE="off")
    with open_services(settings, embedder=local_provider) as services:
        outcome = services.pipeline.ingest("harbour.txt", HARBOUR.encode())
        assert outcome.status == "done"
    return folder


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(token=TOKEN, reply="It closed on 3 March [1]. See also [4].") as fake:
        yield fake


def ask(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEMSEARCH), "ask", "When did the harbour close?", *args],
        env=child_env(data, EMBEDDINGS_PROVIDER="local", EMBEDDINGS_CACHE="off", **env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_ask_streams_the_answer_then_lists_its_sources(data: Path, chat: FakeChat) -> None:
    env = {"HF_TOKEN": TOKEN, "GENERATION_MODEL": MODEL, "HF_ROUTER_URL": chat.url}
    shown = ask(data, **env)
    assert shown.returncode == 0, shown.stderr
    assert "It closed on 3 March [1]. See also ." in shown.stdout  # [4] names no source
    assert "Sources" in shown.stdout
    assert "[1] The northern harbour closed" in shown.stdout
    assert "(harbour.txt, page 1)" in shown.stdout
    assert chat.requests[-1].json["stream"] is True

    as_json = ask(data, "--json", **env)
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert (body["status"], body["citations"]) == ("answered", [1])
    assert body["sources"][0]["filename"] == "harbour.txt"
    assert chat.requests[-1].json["stream"] is False


def test_ask_fails_with_the_reason_and_exit_1(data: Path, chat: FakeChat) -> None:
    chat.fail_next(401)
    refused = ask(data, HF_TOKEN=TOKEN, GENERATION_MODEL=MODEL, HF_ROUTER_URL=chat.url)
    assert refused.returncode == 1
    assert "rejected HF_TOKEN" in refused.stderr and TOKEN not in refused.stderr + refused.stdout
    off = ask(data)
    assert off.returncode == 1 and "answers are off" in off.stderr
