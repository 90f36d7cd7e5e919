"""The collection and chat fake the answer tests share: two notes ingested with the real model
into Qdrant Edge, and the app pointed at FakeChat as if it were the Hugging Face router."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def answering_client(
    data: Path, provider: EmbeddingProvider, chat: FakeChat, **env: str
) -> Iterator[TestClient]:
    """The app on ``data`` (holding harbour.txt, tagged ``ports``, and wheat.txt), answering
    through ``chat``."""
    settings = Settings(
        SEMSEARCH_DATA_DIR=data,
        EMBEDDINGS_CACHE="off",
        HF_TOKEN=TOKEN,
        GENERATION_MODEL=MODEL,
        HF_ROUTER_URL=chat.url,
        **env,
    )
    with open_services(settings, embedder=provider) as services:
        files = [
            SourceFile("harbour.txt", HARBOUR.encode(), Labels(tags=("ports",))),
            SourceFile("wheat.txt", WHEAT.encode()),
        ]
        assert [o.status for o in services.pipeline.ingest_many(files)] == ["done", "done"]
    with TestClient(create_app(settings, embedder=provider)) as test_client:
        yield test_client
