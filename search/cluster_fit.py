"""k-means with k given or chosen by silhouette, and the 2-D projection for the map.

Small collections (up to ``EXACT_LIMIT`` points) take the exact path: every candidate k is
fitted on all points with 10 initialisations and scored by the silhouette over all points.
Larger ones choose k on a seeded sample of ``EXACT_LIMIT`` points the same way (3
initialisations), then refine the chosen centres over all points (Lloyd steps in numpy);
the silhouette over all points is O(n²) and would take minutes at 100,000. The cosine
distances of the scored points are computed once and shared by every candidate k. Every step is
seeded, so the same vectors always give the same clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import cosine_distances
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

MAX_AUTO_K = 12
SEED = 0
EXACT_LIMIT = 3_000
EXACT_N_INIT = 10
SAMPLE_N_INIT = 3
REFINE_STEPS = 20
PCA_SAMPLE = 10_000


@dataclass
class Assignment:
    labels: np.ndarray
    k: int
    chosen_by: Literal["silhouette", "user", "too few documents"]
    scores: dict[int, float] = field(default_factory=dict)


def assign(vectors: np.ndarray, k: int | None) -> Assignment:
    """Cluster labels for each row; ``k=None`` chooses k (2..12) by the best silhouette.

    sklearn's k-means runs on one OpenMP thread: its fits here are small (at most
    ``EXACT_LIMIT`` points), and on a busy 2-core machine its spinning threads made them up to
    ten times slower. libgomp keeps that setting per calling thread, so a request thread
    clustering leaves the rest of the process (the embedding model) alone.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        return _assign(vectors, k)


def _assign(vectors: np.ndarray, k: int | None) -> Assignment:
    n = len(vectors)
    if n < 3:
        return Assignment(np.zeros(n, dtype=int), 1, "too few documents")
    if k is not None:
        k = max(1, min(k, n))
        if k == 1:
            return Assignment(np.zeros(n, dtype=int), 1, "user")
        if n <= EXACT_LIMIT:
            return Assignment(_kmeans(vectors, k, EXACT_N_INIT).labels_, k, "user")
        centres = _kmeans(_sample(vectors), k, SAMPLE_N_INIT).cluster_centers_
        return Assignment(_refine(vectors, centres), k, "user")
    candidates = range(2, min(MAX_AUTO_K, n - 1) + 1)
    if n <= EXACT_LIMIT:
        best, scores = _choose(vectors, candidates, EXACT_N_INIT)
        return Assignment(best.labels_, best.n_clusters, "silhouette", scores)
    best, scores = _choose(_sample(vectors), candidates, SAMPLE_N_INIT)
    labels = _refine(vectors, best.cluster_centers_)
    return Assignment(labels, best.n_clusters, "silhouette", scores)


def _choose(vectors: np.ndarray, candidates: range, n_init: int) -> tuple[KMeans, dict[int, float]]:
    """The k-means of the candidate k with the best silhouette, and every candidate's score."""
    distances = cosine_distances(vectors)
    np.fill_diagonal(distances, 0.0)
    best: tuple[float, KMeans] | None = None
    scores: dict[int, float] = {}
    for candidate in candidates:
        model = _kmeans(vectors, candidate, n_init)
        if len(set(model.labels_.tolist())) < 2:  # identical points: one cluster in fact
            continue
        score = float(silhouette_score(distances, model.labels_, metric="precomputed"))
        scores[candidate] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, model)
    if best is None:
        return _kmeans(vectors, 2, n_init), scores
    return best[1], scores


def _sample(vectors: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return vectors[np.sort(rng.choice(len(vectors), EXACT_LIMIT, replace=False))]


def _refine(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Lloyd steps over all points, started from centres found on a sample (in numpy: one
    matrix product per step; sklearn's Lloyd here cost seconds at 100,000 points)."""
    centres = np.asarray(centres, dtype=np.float32)
    labels = _nearest(vectors, centres)
    for _ in range(REFINE_STEPS):
        members = csr_matrix(
            (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
            shape=(len(centres), len(labels)),
        )
        sums = np.asarray(members @ vectors)
        sizes = np.bincount(labels, minlength=len(centres))
        moved = np.where(sizes[:, None] > 0, sums / np.maximum(sizes, 1)[:, None], centres)
        updated = _nearest(vectors, moved)
        centres = moved
        if np.array_equal(updated, labels):
            break
        labels = updated
    return labels


def _nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The nearest centre of each row by Euclidean distance, in blocks to bound memory."""
    half_norms = 0.5 * (centres * centres).sum(axis=1)
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), 20_000):
        block = vectors[start : start + 20_000] @ centres.T - half_norms
        out[start : start + 20_000] = np.argmax(block, axis=1)
    return out


def _kmeans(vectors: np.ndarray, k: int, n_init: int) -> KMeans:
    # float64: for float32 input, k-means++ computes its distances in small upcast blocks,
    # which took 18 of 22 s at 100,000 points; these fits have at most EXACT_LIMIT rows.
    data = vectors.astype(np.float64)
    return KMeans(n_clusters=k, n_init=n_init, random_state=SEED).fit(data)


def project(vectors: np.ndarray) -> np.ndarray:
    """2-D coordinates in [-1, 1] (PCA; fitted on a sample for large collections)."""
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2)) + np.arange(len(vectors))[:, None] * [1.0, 0.0]
    pca = PCA(n_components=2, random_state=SEED)
    if len(vectors) <= PCA_SAMPLE:
        coords = pca.fit_transform(vectors)
    else:
        rng = np.random.default_rng(SEED)
        pca.fit(vectors[np.sort(rng.choice(len(vectors), PCA_SAMPLE, replace=False))])
        coords = pca.transform(vectors)
    span = np.abs(coords).max() or 1.0
    return np.asarray(coords / span)
