"""Search features through the real app: paging, score thresholds, file-type and date filters,
"more like this", and awkward queries. Real Qdrant Edge store, the session's local model, and
a small fixed corpus written here (ingested once for the module; only the last test, which
rewrites stored dates, changes it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from search.request import MAX_QUERY_CHARS
from search.sparse import Bm25Encoder
from search.store import StoredPoint, VectorStore
from tests.apphelpers import assert_error_shape, ingest_texts
from web.app import create_app
from web.cli import app as cli_app
from web.settings import Settings

pytestmark = pytest.mark.slow

# A long cats document: several chunks, so that passages have neighbours in their own document.
CATS_PARAGRAPHS = [
    "The cat sat on the warm mat by the fire and purred while the kettle boiled.",
    "Kittens chase balls of wool around the living room and pounce on shadows.",
    "An old tabby cat sleeps in the sun all afternoon and ignores the dog next door.",
    "Cats groom their fur with rough tongues and sharpen their claws on the sofa.",
    "A hungry cat meows at dawn until someone fills its bowl with fish.",
]
CORPUS: dict[str, str] = {
    "cats.txt": "Cats at home\n\n"
    + "\n\n".join(
        " ".join(f"{p[:-1]}, on day {day} of week {week}." for day in range(1, 7))
        for week, p in enumerate(CATS_PARAGRAPHS, 1)
    )
    + "\n",
    "kittens.md": "# Kittens\n\nA kitten is a young cat. Kittens purr, play and sleep a lot.\n",
    "dogs.txt": "Dogs\n\nPuppies and dogs love long walks, fetching sticks and barking.\n",
    "money.txt": "Markets\n\nStock markets fell sharply after the quarterly earnings report.\n",
    "bank.md": "# Banking\n\nBanks raised interest rates and tightened lending to companies.\n",
    "soup.txt": "Soup\n\nA simple recipe for tomato soup with fresh basil and garlic.\n",
}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, local_provider: object
) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("features") / "data"
    settings = Settings(SEMSEARCH_DATA_DIR=data, SEMSEARCH_MAX_UPLOAD_MB=5)
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        ingest_texts(test_client, CORPUS)
        yield test_client


@pytest.fixture(scope="module")
def doc_ids(client: TestClient) -> dict[str, str]:
    listed = client.get("/api/documents").json()["documents"]
    return {d["filename"]: d["doc_id"] for d in listed}


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def files(body: dict[str, Any]) -> list[str]:
    return [hit["filename"] for hit in body["results"]]


def store_of(client: TestClient) -> VectorStore:
    store: VectorStore = client.app.state.services.store  # type: ignore[attr-defined]
    return store


# -- paging and thresholds -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_offset_pages_documents_without_repeats(client: TestClient, mode: str) -> None:
    query = "cats kittens dogs markets banks soup"
    everything = files(search(client, q=query, mode=mode, k=6))
    assert len(everything) >= 4, everything
    first = files(search(client, q=query, mode=mode, k=2))
    second = files(search(client, q=query, mode=mode, k=2, offset=2))
    assert first == everything[:2]
    assert second == everything[2:4]
    assert not set(first) & set(second)
    assert files(search(client, q=query, mode=mode, k=2, offset=50)) == []


def test_offset_pages_passages_when_flat(client: TestClient) -> None:
    query = "a cat sleeps in the sun"
    flat = search(client, q=query, group="false", k=6, mode="dense")["results"]
    page = search(client, q=query, group="false", k=3, offset=3, mode="dense")["results"]
    assert len(flat) == 6
    scores = [h["score"] for h in flat]
    assert scores == sorted(set(scores), reverse=True)  # no ties, so the order is meaningful
    assert [h["point_id"] for h in page] == [h["point_id"] for h in flat[3:]]
    assert all(h["point_id"] for h in flat)
    assert len({h["point_id"] for h in flat}) == 6


def test_score_threshold_drops_lower_hits_on_each_scale(client: TestClient) -> None:
    query = "kittens purr"
    for mode in ("dense", "keyword", "hybrid"):
        scores = [h["score"] for h in search(client, q=query, mode=mode, k=6)["results"]]
        assert len(scores) >= 2, (mode, scores)
        cut = (scores[0] + scores[1]) / 2
        kept = search(client, q=query, mode=mode, k=6, score_threshold=cut)["results"]
        assert [h["score"] for h in kept] == scores[:1], mode
        flat = search(client, q=query, mode=mode, group="false", k=6, score_threshold=cut)
        assert all(h["score"] >= cut for h in flat["results"]) and flat["results"], mode
    # Hybrid scores are 0.6 · cosine + 0.4 · BM25 over the best BM25: never above 1.
    hybrid = search(client, q=query, mode="hybrid")["results"]
    assert hybrid and all(0 < h["score"] <= 1.0 for h in hybrid)
    assert search(client, q=query, mode="hybrid", score_threshold=1.01)["results"] == []


def test_the_page_links_to_the_next_and_previous_pages(client: TestClient) -> None:
    page = client.get("/", params={"q": "cats kittens dogs markets", "k": 2, "mode": "dense"})
    assert page.status_code == 200
    found = re.search(r'<a rel="next" href="([^"]+)"', page.text)
    assert found, page.text
    link = found.group(1).replace("&amp;", "&")
    assert "offset=2" in link and "mode=dense" in link and "k=2" in link
    assert 'rel="prev"' not in page.text
    second = client.get(link)
    assert second.status_code == 200
    assert 'rel="prev"' in second.text
    titles = re.findall(r'<h2><a href="/api/documents/([0-9a-f]+)/file', page.text)
    later = re.findall(r'<h2><a href="/api/documents/([0-9a-f]+)/file', second.text)
    assert len(titles) == 2 and later and not set(titles) & set(later)


def test_diversify_reorders_by_mmr(client: TestClient) -> None:
    query = "cats and kittens"
    for group in ("true", "false"):
        plain = search(client, q=query, k=4, group=group, mode="dense")["results"]
        kept = search(
            client, q=query, k=4, group=group, mode="dense", diversify="true", diversity_lambda=1
        )["results"]
        assert [h["point_id"] for h in kept] == [h["point_id"] for h in plain], group
        spread = search(
            client, q=query, k=4, group=group, mode="dense", diversify="true", diversity_lambda=0
        )["results"]
        assert spread[0]["point_id"] == plain[0]["point_id"]  # the best is always picked first
        # Then the least like it: not another cat passage or document.
        assert spread[1]["filename"] not in ("cats.txt", "kittens.md"), group
        assert len(spread) == 4
    assert plain[1]["filename"] == "cats.txt"  # without MMR, cat passages crowd the top
    balanced = search(client, q=query, k=3, diversify="true")["results"]  # default lambda 0.5
    assert len(balanced) == 3 and balanced[0]["filename"] in ("cats.txt", "kittens.md")
    paged = search(client, q=query, k=2, offset=2, diversify="true", diversity_lambda=0)
    firsts = search(client, q=query, k=4, diversify="true", diversity_lambda=0)["results"]
    assert files(paged) == [h["filename"] for h in firsts[2:]]
    refused = client.get("/api/search", params={"q": query, "diversity_lambda": 2})
    assert refused.status_code == 422


# -- filters ---------------------------------------------------------------------------------


def test_file_type_filter_takes_extensions_and_mime_types(client: TestClient) -> None:
    query = "cats kittens dogs markets banks soup"
    assert sorted(files(search(client, q=query, file_type="md"))) == ["bank.md", "kittens.md"]
    assert sorted(files(search(client, q=query, file_type=".MD", group="false"))) == [
        "bank.md",
        "kittens.md",
    ]
    plain = files(search(client, q=query, file_type="text/plain", k=10))
    assert sorted(plain) == ["cats.txt", "dogs.txt", "money.txt", "soup.txt"]
    both = files(search(client, q=query, file_type=["pdf", "md"], mode="keyword"))
    assert sorted(both) == ["bank.md", "kittens.md"]
    assert files(search(client, q=query, file_type="pdf")) == []
    refused = client.get("/api/search", params={"q": "cats", "file_type": "exe"})
    assert refused.status_code == 422
    assert "exe" in assert_error_shape(refused.json(), 422)["message"]


def test_the_page_filters_as_its_form_sends_them(client: TestClient) -> None:
    """A browser sends every box of the form, the empty ones as `name=`: those mean no filter."""
    query = "cats kittens dogs markets banks soup"
    blank = {"q": query, "ingested_after": "", "ingested_before": "", "meta": ""}
    page = client.get("/", params={**blank, "k": 10})
    assert page.status_code == 200, page.text
    assert len(re.findall(r'<li class="hit">', page.text)) == len(CORPUS)
    assert "Filters</summary>" in page.text  # folded: no filter is on

    markdown = client.get("/", params={**blank, "file_type": "text/markdown"})
    assert page_files(markdown.text) == ["bank.md", "kittens.md"]
    assert '<details class="filters" open>' in markdown.text
    assert re.search(r'value="text/markdown" checked', markdown.text)

    future = client.get("/", params={**blank, "ingested_after": "2999-01-01"})
    assert future.status_code == 200
    assert page_files(future.text) == []
    assert 'name="ingested_after" value="2999-01-01"' in future.text
    past = client.get("/", params={**blank, "ingested_before": "2999-01-01"})
    assert len(page_files(past.text)) == len(CORPUS)


def page_files(html: str) -> list[str]:
    return sorted(re.findall(r'<span class="filename">([^<]+)</span>', html))


def test_bad_dates_are_a_422(client: TestClient) -> None:
    refused = client.get("/api/search", params={"q": "cats", "ingested_after": "last week"})
    assert refused.status_code == 422
    assert_error_shape(refused.json(), 422)


# -- more like this --------------------------------------------------------------------------


def test_similar_documents_leave_out_the_document_itself(
    client: TestClient, doc_ids: dict[str, str]
) -> None:
    response = client.get(f"/api/documents/{doc_ids['kittens.md']}/similar", params={"k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 3
    assert results[0]["filename"] == "cats.txt"
    assert "kittens.md" not in [h["filename"] for h in results]
    scores = [h["score"] for h in results]
    assert scores == sorted(scores, reverse=True) and scores[0] < 1.0
    assert all(h["text"] and h["point_id"] for h in results)  # each shown by a passage
    money = client.get(f"/api/documents/{doc_ids['money.txt']}/similar", params={"k": 1})
    assert [h["filename"] for h in money.json()["results"]] == ["bank.md"]
    missing = client.get("/api/documents/0123abcd/similar")
    assert missing.status_code == 404
    assert assert_error_shape(missing.json(), 404)["code"] == "document_not_found"


def test_similar_passages_from_a_hit(client: TestClient) -> None:
    hit = search(client, q="kittens chase balls of wool", group="false", k=1)["results"][0]
    assert hit["filename"] == "cats.txt"
    similar = client.get("/api/search/similar", params={"point": hit["point_id"]})
    assert similar.status_code == 200, similar.text
    others = similar.json()["results"]
    assert others and "cats.txt" not in [h["filename"] for h in others]
    assert others[0]["filename"] == "kittens.md"
    same = client.get(
        "/api/search/similar",
        params={"point": hit["point_id"], "same_document": "true", "group": "false", "k": 5},
    ).json()["results"]
    assert "cats.txt" in [h["filename"] for h in same]
    assert hit["point_id"] not in [h["point_id"] for h in same]  # never the passage itself
    missing = client.get("/api/search/similar", params={"point": "nope"})
    assert missing.status_code == 404
    assert_error_shape(missing.json(), 404)


def test_each_hit_on_the_page_links_to_more_like_it(client: TestClient) -> None:
    page = client.get("/", params={"q": "kittens"})
    links = re.findall(r'<a class="similar" href="(/similar\?point=[^"]+)"', page.text)
    assert links, page.text
    similar = client.get(links[0].replace("&amp;", "&"))
    assert similar.status_code == 200
    assert "More like this passage" in similar.text and 'class="hit"' in similar.text
    assert client.get("/similar", params={"point": "nope"}).status_code == 404


# -- awkward queries -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_awkward_queries_answer_200(client: TestClient, mode: str) -> None:
    for blank in ("", "   \n\t "):
        assert search(client, q=blank, mode=mode)["results"] == []
    long = search(client, q="cat " * 4_000, mode=mode)  # 16,000 characters in the URL
    assert len(long["query"]) <= MAX_QUERY_CHARS
    assert "cats.txt" in files(long)
    posted = client.post("/api/search", json={"q": "cat " * 20_000, "mode": mode})
    assert posted.status_code == 200, posted.text  # 80,000 characters: cut, not refused
    assert "cats.txt" in files(posted.json())
    greek = "Η γάτα κάθεται στο χαλί"  # noqa: RUF001
    for other_script in (greek, "猫坐在垫子上", "القطة تجلس على السجادة"):
        body = search(client, q=other_script, mode=mode)
        assert isinstance(body["results"], list)
    # Only stop words: keyword has no terms left and finds nothing; hybrid falls back on dense.
    stop_words = search(client, q="the of and", mode=mode)
    if mode == "keyword":
        assert stop_words["results"] == []
    else:
        assert stop_words["results"]
    page = client.get("/", params={"q": "the of and", "mode": mode})
    assert page.status_code == 200


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_offset_min_score_and_type(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "SEMSEARCH_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
        **dict.fromkeys(("HF_TOKEN", "EMBEDDINGS_ENDPOINT", "EMBEDDINGS_PROVIDER", "QDRANT_URL")),
    }
    paths = []
    for name in ("kittens.md", "dogs.txt", "money.txt"):
        (tmp_path / name).write_text(CORPUS[name])
        paths.append(str(tmp_path / name))

    def cli(*args: str) -> Any:
        result = CliRunner().invoke(cli_app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    cli("ingest", *paths)
    query = ("search", "kittens and puppies", "--json", "--mode", "dense")
    everything = files(cli(*query))
    assert len(everything) == 3
    assert files(cli(*query, "-k", "1", "--offset", "1")) == everything[1:2]
    assert files(cli(*query, "--type", "md")) == ["kittens.md"]
    assert files(cli(*query, "--after", "2000-01-01", "--before", "2000-01-02")) == []
    assert files(cli(*query, "--min-score", "2")) == []  # above any cosine
    shown = cli("search", "kittens", "--offset", "1")
    assert shown.lstrip().startswith("2. ")  # ranks go on from the offset
    bad = CliRunner().invoke(cli_app, ["search", "x", "--type", "exe"], env=env)
    assert bad.exit_code == 2 and "unknown file type exe" in bad.stderr


# -- dates (last: rewrites stored payloads) --------------------------------------------------


def test_ingested_date_filters(client: TestClient, doc_ids: dict[str, str]) -> None:
    """Pretend money.txt was ingested in 2020 by rewriting its chunks' stored timestamp."""
    store = store_of(client)
    money = doc_ids["money.txt"]
    chunks = [r for r in store.scroll({"doc_id": money, "kind": "chunk"}, with_vectors=True)]
    assert chunks and all(r.payload["ingested_at"] > "2021" for r in chunks)
    bm25 = Bm25Encoder()
    store.upsert(
        [
            StoredPoint(
                id=r.id,
                payload={**r.payload, "ingested_at": "2020-06-01T12:00:00+00:00"},
                dense=r.dense,
                sparse=bm25.embed_document(str(r.payload["text"])),
            )
            for r in chunks
        ]
    )
    query = "stock markets and banks"
    assert "money.txt" in files(search(client, q=query))
    old = files(search(client, q=query, ingested_before="2021-01-01"))
    assert old == ["money.txt"]
    recent = files(search(client, q=query, ingested_after="2021-01-01", k=10))
    assert "money.txt" not in recent and "bank.md" in recent
    # A date means its midnight UTC: ingested_before is exclusive, ingested_after inclusive.
    assert files(search(client, q=query, ingested_before="2020-06-01")) == []
    assert files(search(client, q=query, ingested_after="2020-06-01T12:00:00Z", k=1)) != []
    window = search(
        client,
        q=query,
        ingested_after="2020-06-01",
        ingested_before="2020-06-02T00:00:00+00:00",
        group="false",
        mode="keyword",
    )
    assert {h["filename"] for h in window["results"]} == {"money.txt"}
