"""Helpers of bench/quality.py: the labelled corpora, the reference systems and the metrics.

The references are what the product is compared with in the same run: the bare model
(whole-document all-MiniLM-L6-v2 vectors, cosine) and plain Okapi BM25 for retrieval, and the
bare model's vectors with scikit-learn ``KMeans(n_init=10)`` for clustering.
``product_collection`` is the product's side: a fresh collection built as `semsearch ingest`
builds one, which every quality benchmark searches.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "eval" / "corpora"


@dataclass(frozen=True)
class Corpus:
    name: str
    labels: list[str]
    texts: list[str]


@contextmanager
def product_collection(files: Iterable[Any]) -> Iterator[tuple[Any, list[Any]]]:
    """The services over a fresh collection of ``files`` (``SourceFile`` values), in a
    temporary data folder: ingested through the product's pipeline and compacted, as
    `semsearch ingest` leaves it; with the outcomes. A failed file stops the benchmark."""
    from search.store import compact
    from web.services import open_services
    from web.settings import Settings

    with (
        tempfile.TemporaryDirectory() as tmp,
        open_services(Settings(SEMSEARCH_DATA_DIR=tmp)) as services,
    ):
        outcomes = list(services.pipeline.ingest_many(iter(files)))
        failed = [o for o in outcomes if o.status == "failed"]
        assert not failed, failed[:3]
        compact(services.store)
        yield services, outcomes


def read_corpus(name: str) -> Corpus:
    """``label<TAB>text`` per line after three header lines; lines without both are skipped."""
    path = CORPORA / name
    if not path.is_file():
        sys.exit(f"corpus not found: {path} (../shared/eval/corpora is needed; nothing is copied)")
    labels, texts = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number < 3 or "\t" not in line:
                continue
            label, text = (part.strip() for part in line.split("\t", 1))
            if label and text:
                labels.append(label)
                texts.append(text)
    return Corpus(name, labels, texts)


def first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


class BareModel:
    """The bundled all-MiniLM-L6-v2 through sentence-transformers, nothing else around it."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        from embeddings.local import bundled_model_path

        self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")
        self.cache_dir = cache_dir

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors; a long text is cut at the model's limit (256 word pieces).

        With a ``cache_dir``, the vectors of a list of texts are kept there (named by the
        sha256 of the texts and the model's weights): they depend on nothing the product does,
        and on two busy cores they took 20 minutes for one corpus."""
        target = self._cached(texts)
        if target is not None and target.is_file():
            return np.load(target)
        vectors = self.model.encode(texts, batch_size=32, normalize_embeddings=True)
        result = np.asarray(vectors, dtype=np.float32)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target.with_suffix(".partial.npy"), result)
            target.with_suffix(".partial.npy").replace(target)
        return result

    def _cached(self, texts: list[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        from embeddings.local import bundled_model_path

        digest = hashlib.sha256()
        digest.update((bundled_model_path() / "model.safetensors").read_bytes())
        for text in texts:
            digest.update(text.encode() + b"\0")
        return self.cache_dir / f"bare-{digest.hexdigest()[:24]}.npy"


def top_k_cosine(index: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row i: the positions in ``index`` of query i's k nearest (normalised vectors)."""
    scores = queries @ index.T
    return np.argsort(-scores, axis=1)[:, :k]


class Bm25:
    """Plain Okapi BM25 (k1=1.2, b=0.75, Lucene's idf) over scikit-learn's word tokens,
    lower-cased, English stop words removed."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vectorizer = CountVectorizer(stop_words="english")
        counts = self.vectorizer.fit_transform(texts).tocsc().astype(np.float64)
        n = counts.shape[0]
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        df = np.diff(counts.indptr)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        # Term-frequency part per (document, term), precomputed: tf (k1 + 1) / (tf + k1 norm).
        norm = k1 * (1 - b + b * lengths / lengths.mean())
        weights = counts.tocoo()
        weights.data = weights.data * (k1 + 1) / (weights.data + norm[weights.row])
        self.weights = weights.tocsr()

    def top_k(self, queries: list[str], k: int) -> np.ndarray:
        """Row i: the positions of query i's k best documents (each query term counted once)."""
        terms = self.vectorizer.transform(queries)
        terms.data[:] = 1.0
        scores = (terms.multiply(self.idf[None, :]).tocsr() @ self.weights.T).toarray()
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def precision_per_query(returned: list[list[str]], wanted: list[str]) -> np.ndarray:
    """Each query's share of returned labels equal to its own label (0 when nothing came back)."""
    return np.array(
        [
            sum(label == want for label in labels) / len(labels) if labels else 0.0
            for labels, want in zip(returned, wanted, strict=True)
        ]
    )


def paired_interval(a: np.ndarray, b: np.ndarray, resamples: int = 10_000) -> tuple[float, float]:
    """95% bootstrap interval (seed 0) of mean(a - b) over the same queries.

    The margins the issue asks about are a hundredth or two; an interval that excludes 0 says
    the difference is more than the luck of which 300 queries were drawn."""
    differences = a - b
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def agreement(truth: list[str], found: list[int]) -> tuple[float, float]:
    """V-measure and adjusted Rand index of a clustering against the labels."""
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    return float(v_measure_score(truth, found)), float(adjusted_rand_score(truth, found))


def kmeans_reference(
    vectors: np.ndarray, truth: list[str], k: int, seeds: tuple[int, ...] = (0, 1, 2)
) -> tuple[float, float]:
    """Mean V-measure and ARI of ``KMeans(k, n_init=10)`` over ``seeds``."""
    from sklearn.cluster import KMeans

    scores = [
        agreement(truth, KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(vectors))
        for s in seeds
    ]
    return float(np.mean([v for v, _ in scores])), float(np.mean([a for _, a in scores]))
