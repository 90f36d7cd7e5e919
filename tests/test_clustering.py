"""Clusters: automatic and given k, chunk level, the cache, and the fast path for large n.

The collection tests ingest a small fixed corpus of three clearly separated topics with the
real bundled model into a real Qdrant Edge store; the fast-path tests use synthetic vectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import adjusted_rand_score

from search.cluster_fit import SAMPLE_SIZE, assign
from search.cluster_space import joint_space
from search.clustering import cluster_documents
from search.points import chunk_point_id
from web.app import create_app
from web.services import Services, open_services
from web.settings import Settings

COOKING = {
    "pasta.txt": "Boil the pasta in salted water and stir in a tomato sauce with basil, garlic "
    "and olive oil. Grate parmesan cheese over the spaghetti before serving dinner.",
    "risotto.txt": "Risotto needs arborio rice, a hot stock, butter and parmesan cheese. Stir "
    "the rice slowly in the pan and season the dish with salt and pepper.",
    "bread.txt": "Knead the dough of flour, yeast, water and salt, let it rise, then bake the "
    "loaf of bread in a hot oven until the crust is golden brown.",
}
FOOTBALL = {
    "derby.txt": "The striker scored a goal in the final minute of the football match and the "
    "fans in the stadium cheered as the referee blew the whistle.",
    "league.txt": "The football club tops the league table after the goalkeeper saved a "
    "penalty and the coach praised the defenders of the team.",
    "transfer.txt": "The midfielder signed for a new football club; the coach expects him to "
    "score goals and win the cup with the team this season.",
}
ASTRONOMY = {
    "telescope.txt": "The telescope observed a distant galaxy; astronomers measured the light "
    "of its stars and the redshift of the spiral nebula.",
    "planets.txt": "The planets orbit the sun: Jupiter, the largest planet, has many moons, "
    "and Saturn's rings are made of ice and rock circling in space.",
    "comet.txt": "A comet with a bright tail approached the sun, and astronomers tracked its "
    "orbit through the solar system with a space telescope.",
}
TOPICS = {"cooking": COOKING, "football": FOOTBALL, "astronomy": ASTRONOMY}


@pytest.fixture
def services(tmp_path: Path, local_provider: object) -> Iterator[Services]:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_CHUNK_TOKENS=48, SEMSEARCH_CHUNK_OVERLAP=0
    )
    with open_services(settings, embedder=local_provider) as opened:  # type: ignore[arg-type]
        yield opened


def _ingest(services: Services, files: dict[str, str]) -> dict[str, str]:
    """Ingest the files; their doc_id by file name."""
    ids = {}
    for name, text in files.items():
        outcome = services.pipeline.ingest(name, text.encode())
        assert outcome.status == "done", outcome
        assert outcome.doc_id is not None
        ids[name] = outcome.doc_id
    return ids


@pytest.fixture
def corpus(services: Services) -> dict[str, str]:
    return _ingest(services, {**COOKING, **FOOTBALL, **ASTRONOMY})


def _cluster_of(result_points: list, ids: dict[str, str]) -> dict[str, int]:
    by_doc = {p.doc_id: p.cluster for p in result_points}
    return {name: by_doc[doc_id] for name, doc_id in ids.items()}


def test_automatic_k_finds_the_three_topics(services: Services, corpus: dict[str, str]) -> None:
    result = cluster_documents(services.store)
    assert result.level == "document"
    assert result.k_chosen_by == "silhouette"
    assert set(result.k_scores) == set(range(2, len(corpus)))  # 2..n-1 tried, each scored
    assert result.k == max(result.k_scores, key=lambda k: result.k_scores[k]) == 3
    cluster = _cluster_of(result.points, corpus)
    for files in TOPICS.values():
        assert len({cluster[name] for name in files}) == 1, cluster
    assert len(set(cluster.values())) == 3
    assert sorted(c.size for c in result.clusters) == [3, 3, 3]
    terms = {c.id: set(c.terms) for c in result.clusters}
    assert terms[cluster["pasta.txt"]] & {"cheese", "parmesan", "rice", "salt", "stir"}
    assert terms[cluster["derby.txt"]] & {"football", "coach", "team", "goal", "club"}
    assert terms[cluster["comet.txt"]] & {"astronomers", "telescope", "sun", "orbit", "space"}
    assert all(len(c.documents) == 3 and c.documents[0].page is None for c in result.clusters)


def test_user_k_is_honoured(services: Services, corpus: dict[str, str]) -> None:
    for k in (2, 5):
        result = cluster_documents(services.store, k)
        assert (result.k, result.k_chosen_by, result.k_scores) == (k, "user", {})
        assert len(result.clusters) == k
        assert sum(c.size for c in result.clusters) == len(corpus)
    assert cluster_documents(services.store, 1).clusters[0].size == len(corpus)


def test_chunk_level_clusters_the_passages_of_long_documents(services: Services) -> None:
    long_cooking = " ".join(COOKING.values()) * 2
    long_sky = " ".join(ASTRONOMY.values()) * 2
    ids = _ingest(services, {"kitchen.txt": long_cooking, "sky.txt": long_sky})
    chunks = services.store.count({"kind": "chunk"})
    assert chunks >= 6  # 48-token chunks: several passages per document

    result = cluster_documents(services.store, level="chunk")
    assert result.level == "chunk"
    assert len(result.points) == chunks
    assert all(p.page is not None and p.chunk_index is not None for p in result.points)
    cluster_docs: dict[int, set[str]] = {}
    for p in result.points:
        cluster_docs.setdefault(p.cluster, set()).add(p.doc_id)
    # Two documents of two topics: no cluster of passages mixes them.
    assert result.k >= 2 and all(len(docs) == 1 for docs in cluster_docs.values())
    for c in result.clusters:
        for item in c.documents:
            assert item.doc_id in ids.values() and item.snippet and item.chunk_index is not None
            (stored,) = services.store.retrieve([chunk_point_id(item.doc_id, item.chunk_index)])
            assert " ".join(stored.payload["text"].split()).startswith(item.snippet)
    document_level = cluster_documents(services.store)
    assert document_level.level == "document" and len(document_level.points) == 2


def test_cache_serves_until_an_ingest_or_a_delete(
    services: Services, corpus: dict[str, str]
) -> None:
    cache = services.clusters
    first = cache.clusters()
    second = cache.clusters()
    assert (first.cached, second.cached) == (False, True)
    assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert cache.clusters(2).cached is False  # another key
    assert cache.clusters(level="chunk").cached is False

    (new_id,) = _ingest(services, {"moon.txt": ASTRONOMY["comet.txt"] + " The moon."}).values()
    after_ingest = cache.clusters()
    assert after_ingest.cached is False
    assert new_id in {p.doc_id for p in after_ingest.points}
    assert cache.clusters().cached is True

    services.pipeline.delete(corpus["bread.txt"])
    after_delete = cache.clusters()
    assert after_delete.cached is False
    assert corpus["bread.txt"] not in {p.doc_id for p in after_delete.points}


def test_cache_sees_a_delete_offset_by_an_ingest(
    services: Services, corpus: dict[str, str]
) -> None:
    """Same number of points before and after: the newer ``ingested_at`` gives it away."""
    cache = services.clusters
    cache.clusters()
    total = services.store.count()
    services.pipeline.delete(corpus["pasta.txt"])
    _ingest(services, {"pasta2.txt": COOKING["pasta.txt"] + " Serve it hot."})
    assert services.store.count() == total  # one chunk each: the counts alone cannot tell
    result = cache.clusters()
    assert result.cached is False
    names = {d.filename for d in services.catalog.documents()}
    assert "pasta2.txt" in names and "pasta.txt" not in names


def test_api_and_page_take_level_and_report_the_cache(
    tmp_path: Path, local_provider: object
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_CHUNK_TOKENS=48)
    with TestClient(create_app(settings, embedder=local_provider)) as client:  # type: ignore[arg-type]
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        _ingest(services, {"kitchen.txt": " ".join(COOKING.values()) * 2, **FOOTBALL})
        body = client.get("/api/clusters", params={"level": "chunk"}).json()
        assert body["level"] == "chunk" and body["cached"] is False
        assert all(p["page"] is not None for p in body["points"])
        again = client.get("/api/clusters", params={"level": "chunk"}).json()
        assert again["cached"] is True and again["points"] == body["points"]
        assert client.get("/api/clusters").json()["level"] == "document"
        assert client.get("/api/clusters", params={"level": "page"}).status_code == 422
        html = client.get("/clusters", params={"level": "chunk", "k": "2"}).text
        assert '<option value="chunk" selected>passages</option>' in html
        assert "passages" in html and "page 1" in html


# -- the fast path, on synthetic vectors ------------------------------------------------------


def _blobs(
    n: int, centres: int, dim: int = 384, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    middle = rng.normal(size=(centres, dim))
    middle /= np.linalg.norm(middle, axis=1, keepdims=True)
    truth = rng.integers(0, centres, size=n)
    vectors = middle[truth] + rng.normal(scale=noise, size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), truth


def test_fast_path_chooses_k_on_a_sample_and_assigns_every_point() -> None:
    vectors, truth = _blobs(5_000, 5)
    assert len(vectors) > SAMPLE_SIZE  # the sampled path
    result = assign(vectors, None)
    assert (result.k, result.chosen_by) == (5, "silhouette")
    assert max(result.scores, key=lambda k: result.scores[k]) == 5
    assert len(result.labels) == len(vectors)
    assert adjusted_rand_score(truth, result.labels) > 0.99
    again = assign(vectors, None)
    assert np.array_equal(again.labels, result.labels)  # seeded: deterministic


def test_fast_path_honours_a_given_k() -> None:
    vectors, truth = _blobs(6_000, 4)
    result = assign(vectors, 4)
    assert (result.k, result.chosen_by) == (4, "user")
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert len(set(assign(vectors, 7).labels.tolist())) == 7


def test_exact_path_on_a_small_collection() -> None:
    vectors, truth = _blobs(400, 6, noise=0.06)
    result = assign(vectors, None)
    assert (result.k, result.chosen_by) == (6, "silhouette")
    assert adjusted_rand_score(truth, result.labels) > 0.99
    assert assign(vectors[:2], None).chosen_by == "too few documents"


def _two_vocabularies(n: int) -> tuple[list[str], np.ndarray]:
    """Texts from two disjoint vocabularies (with words both share), and which one each is."""
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, size=n)
    words = [["ledger", "invoice", "audit", "payroll"], ["glacier", "tundra", "fjord", "moraine"]]
    shared = ["report", "today", "people", "office", "weather"]
    texts = [" ".join([*rng.choice(words[t], 3), *rng.choice(shared, 3)]) for t in truth.tolist()]
    return texts, truth


def test_words_separate_what_the_dense_vectors_cannot() -> None:
    # Dense vectors of pure noise: only the texts tell the two groups apart.
    texts, truth = _two_vocabularies(300)
    noise = np.random.default_rng(3).normal(size=(300, 384)).astype(np.float32)
    with_words = assign(noise, 2, lambda rows: [texts[i] for i in rows])
    assert adjusted_rand_score(truth, with_words.labels) == 1.0
    without = assign(noise, 2)
    assert adjusted_rand_score(truth, without.labels) < 0.2


def test_a_large_collection_reads_the_words_of_its_sample_only() -> None:
    vectors, truth = _blobs(5_000, 3)
    asked: list[int] = []

    def texts_of(rows: np.ndarray) -> list[str]:
        asked.extend(rows.tolist())
        return [f"topic{truth[i]} words of topic{truth[i]} and common words" for i in rows]

    result = assign(vectors, None, texts_of)
    assert len(asked) == SAMPLE_SIZE and len(set(asked)) == SAMPLE_SIZE
    assert result.k == 3
    assert adjusted_rand_score(truth, result.labels) > 0.99
    other_sample = assign(vectors, None, texts_of, seed=1)
    assert set(asked[SAMPLE_SIZE:]) != set(asked[:SAMPLE_SIZE])  # the seed draws the sample
    assert adjusted_rand_score(truth, other_sample.labels) > 0.99


def test_joint_space_rows_are_unit_length_and_fall_back_to_meaning_alone() -> None:
    texts, _ = _two_vocabularies(50)
    vectors = np.random.default_rng(4).normal(size=(50, 8)).astype(np.float32)
    joined = joint_space(vectors, texts)
    assert joined.shape[0] == 50 and joined.shape[1] > 8
    assert np.allclose(np.linalg.norm(joined, axis=1), 1.0, atol=1e-5)
    assert joint_space(vectors[:2], texts[:2]).shape == (2, 8)  # too few texts
    assert joint_space(vectors[:5], ["alpha", "beta", "gamma", "delta", "omega"]).shape == (5, 8)
