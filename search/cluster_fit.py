"""Clusters with k given or chosen by silhouette, and the 2-D projection for the map.

The fit runs on at most ``SAMPLE_SIZE`` points (every point of a smaller collection; a seeded
sample of a larger one), in the joint space of ``search.cluster_space`` (meaning and words):

1. Ward's hierarchical clustering builds one tree of the points; cutting it gives the clusters
   for every candidate k at once.
2. k-means (Lloyd steps) starts from each cut's centres. Ward gives k-means a start near a
   good optimum, with no random draws: on the dense vectors of the 20newsgroups sample,
   k-means++ with 10 initialisations scored V-measure 0.631 (mean of 3 seeds, 0.628 to 0.632),
   Ward then k-means 0.641.
3. For automatic k, the silhouette of each candidate's fit (2..12) over the fitted points;
   the best one wins and every candidate's score is reported.

Points outside the sample go to the nearest cluster by their dense vector (the mean of its
fitted members'): their words are never read, so 100,000 points cost one matrix product
more than 3,000. Every step is seeded, so the same collection always gives the same clusters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances, silhouette_score
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from search.cluster_space import joint_space

MAX_AUTO_K = 12
SEED = 0
SAMPLE_SIZE = 3_000
LLOYD_STEPS = 20
PCA_SAMPLE = 10_000

TextsOf = Callable[[np.ndarray], Sequence[str]]


@dataclass
class Assignment:
    labels: np.ndarray
    k: int
    chosen_by: Literal["silhouette", "user", "too few documents"]
    scores: dict[int, float] = field(default_factory=dict)


def assign(
    vectors: np.ndarray, k: int | None, texts_of: TextsOf | None = None, *, seed: int = SEED
) -> Assignment:
    """Cluster labels for each row; ``k=None`` chooses k (2..12) by the best silhouette.

    ``seed`` draws the sample of a large collection (``bench/quality.py`` varies it to show
    how much the sample matters).

    ``texts_of(rows)`` gives the texts of those rows, for the words half of the space; without
    it the fit uses the dense vectors alone. OpenMP is held to one thread: scikit-learn's
    spinning threads made small fits up to ten times slower on a busy 2-core machine, and libgomp
    keeps the setting per calling thread, so the embedding model elsewhere is left alone.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        return _assign(vectors, k, texts_of, seed)


def _assign(vectors: np.ndarray, k: int | None, texts_of: TextsOf | None, seed: int) -> Assignment:
    n = len(vectors)
    if n < 3:
        return Assignment(np.zeros(n, dtype=int), 1, "too few documents")
    if k is not None:
        k = max(1, min(k, n))
        if k == 1:
            return Assignment(np.zeros(n, dtype=int), 1, "user")
    rows = _sample_rows(n, seed)
    space = joint_space(vectors[rows], texts_of(rows) if texts_of else None)
    tree = linkage(space.astype(np.float64), method="ward")
    if k is not None:
        return Assignment(_spread(vectors, rows, _fit(space, tree, k)), k, "user")
    distances = pairwise_distances(space)
    best: tuple[float, np.ndarray] | None = None
    scores: dict[int, float] = {}
    for candidate in range(2, min(MAX_AUTO_K, len(rows) - 1) + 1):
        labels = _fit(space, tree, candidate)
        if len(np.unique(labels)) < 2:  # identical points: one cluster in fact
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        scores[candidate] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, labels)
    if best is None:
        return Assignment(np.zeros(n, dtype=int), 1, "too few documents")
    labels = _spread(vectors, rows, best[1])
    return Assignment(labels, int(best[1].max()) + 1, "silhouette", scores)


def _sample_rows(n: int, seed: int) -> np.ndarray:
    if n <= SAMPLE_SIZE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, SAMPLE_SIZE, replace=False))


def _fit(space: np.ndarray, tree: np.ndarray, k: int) -> np.ndarray:
    """The tree cut into (at most) k clusters, then refined by k-means from their centres."""
    cut = fcluster(tree, k, criterion="maxclust") - 1
    _, cut = np.unique(cut, return_inverse=True)  # numbered 0..m-1 (m < k for identical points)
    return _lloyd(space, _centres(space, cut, int(cut.max()) + 1))


def _centres(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    members = csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
        shape=(k, len(labels)),
    )
    sums = np.asarray(members @ points)
    sizes = np.bincount(labels, minlength=k)
    return np.asarray(sums / np.maximum(sizes, 1)[:, None], dtype=np.float32)


def _lloyd(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """k-means (Lloyd steps in numpy) from the given centres; a centre left empty stays put."""
    labels = _nearest(points, centres)
    for _ in range(LLOYD_STEPS):
        sizes = np.bincount(labels, minlength=len(centres))
        moved = np.where(sizes[:, None] > 0, _centres(points, labels, len(centres)), centres)
        updated = _nearest(points, moved)
        centres = moved
        if np.array_equal(updated, labels):
            break
        labels = updated
    return labels


def _spread(vectors: np.ndarray, rows: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Every point's cluster: the fitted rows keep theirs, the others take the nearest
    cluster by dense vector."""
    if len(rows) == len(vectors):
        return fitted
    k = int(fitted.max()) + 1
    labels = _nearest(vectors, _centres(np.asarray(vectors[rows], dtype=np.float32), fitted, k))
    labels[rows] = fitted
    return labels


def _nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The nearest centre of each row by Euclidean distance, in blocks to bound memory."""
    half_norms = 0.5 * (centres * centres).sum(axis=1)
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), 20_000):
        block = vectors[start : start + 20_000] @ centres.T - half_norms
        out[start : start + 20_000] = np.argmax(block, axis=1)
    return out


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
