"""Relevance on a small fixed corpus, through the real app and model: each assertion fails if
hybrid fusion degenerates into one of its halves.

A product code (``XR-7731``) is something only BM25 matches exactly; "unreliable signal" is a
paraphrase of a document that shares no word with it, which only the dense half finds. The
figures at scale are in docs/quality.md (``bench/quality.py``); these are the cases that must
never regress.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.apphelpers import ingest_texts
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

CORPUS = {
    "firmware.txt": "Release notes\n\nFirmware 2.4 for the XR-7731 router adds a guest network "
    "and a new admin page.\n",
    "dropouts.txt": "Unstable wifi\n\nIf your wireless connection keeps disconnecting, move the "
    "access point away from the microwave and change the channel.\n",
    "printer.txt": "Printer setup\n\nTo add a printer, open the control panel and choose "
    "devices, then follow the wizard.\n",
    "router-guide.txt": "Buying guide\n\nA mesh system covers a large house better than a "
    "single router; look at the number of bands.\n",
    "baking.txt": "Bread\n\nKnead the dough for ten minutes, let it rise for an hour and bake it "
    "at 220 degrees.\n",
    "garden.txt": "Tomatoes\n\nWater tomato plants at the base in the morning and stake them as "
    "they grow.\n",
    "invoice.txt": "Billing\n\nInvoice XR-7732 for the office furniture is due at the end of the "
    "month.\n",
}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, local_provider: object
) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("relevance") / "data")
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        ingest_texts(test_client, CORPUS)
        yield test_client


def ranked(client: TestClient, query: str, mode: str) -> list[str]:
    response = client.get("/api/search", params={"q": query, "mode": mode, "k": 4})
    assert response.status_code == 200, response.text
    return [hit["filename"] for hit in response.json()["results"]]


def test_hybrid_keeps_the_exact_code_and_the_paraphrase(client: TestClient) -> None:
    query = "XR-7731 unreliable signal"
    dense, keyword = ranked(client, query, "dense"), ranked(client, query, "keyword")
    assert dense[0] == "dropouts.txt"  # meaning: the paraphrase first
    assert keyword[0] == "firmware.txt" and "dropouts.txt" not in keyword  # words only
    hybrid = ranked(client, query, "hybrid")
    assert hybrid[0] == "firmware.txt"  # high in both lists: first once fused
    assert "dropouts.txt" in hybrid[:3]  # found by meaning alone, kept by the fusion


def test_an_exact_code_beats_its_near_twin(client: TestClient) -> None:
    for mode in ("keyword", "hybrid"):
        assert ranked(client, "XR-7731", mode)[:2] == ["firmware.txt", "invoice.txt"], mode


def test_a_paraphrase_brings_related_documents_keywords_miss(client: TestClient) -> None:
    query = "my wireless signal is unreliable"
    keyword = ranked(client, query, "keyword")
    assert keyword == ["dropouts.txt"]
    hybrid = ranked(client, query, "hybrid")
    assert hybrid[:2] == ["dropouts.txt", "router-guide.txt"]
    assert {"baking.txt", "garden.txt"}.isdisjoint(hybrid[:2])
