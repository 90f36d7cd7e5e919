"""Maximal marginal relevance (MMR): reorder hits so that near-duplicates do not crowd the top.

Each pick maximises ``lam * relevance - (1 - lam) * redundancy``, where relevance is the hit's
score min-max scaled to 0..1 over the candidates (so it works on every mode's scale: cosine,
BM25 or the hybrid sum, or the reranker's), and redundancy is the highest cosine between the
hit's stored dense vector and those of the hits already picked. ``lam=1`` keeps the ranking;
``lam=0`` only avoids repeats. Hits keep their own scores; only their order (and which are
kept) changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

import numpy as np

DEFAULT_LAMBDA = 0.5
# MMR picks k hits out of this many times k candidates.
CANDIDATES_PER_HIT = 3


class _Scored(Protocol):
    """A ``Hit`` or a ``Passage``."""

    @property
    def score(self) -> float: ...

    @property
    def point_id(self) -> str: ...


_H = TypeVar("_H", bound=_Scored)


def mmr(hits: Sequence[_H], vectors: Mapping[str, Sequence[float]], k: int, lam: float) -> list[_H]:
    """The ``k`` hits MMR picks, in the order picked. Hits without a vector (``point_id`` not in
    ``vectors``) count as redundant with nothing."""
    if not hits:
        return []
    scores = np.array([hit.score for hit in hits], dtype=np.float64)
    spread = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / spread if spread > 0 else np.ones(len(hits))
    dimension = len(next(iter(vectors.values()))) if vectors else 1
    matrix = np.zeros((len(hits), dimension), dtype=np.float64)
    for row, hit in enumerate(hits):
        vector = vectors.get(hit.point_id)
        if vector is not None:
            norm = float(np.linalg.norm(vector))
            matrix[row] = np.asarray(vector, dtype=np.float64) / (norm or 1.0)
    similarity = matrix @ matrix.T
    redundancy = np.full(len(hits), -np.inf)
    picked: list[int] = []
    left = list(range(len(hits)))
    while left and len(picked) < k:
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        gains = lam * relevance[left] - (1 - lam) * penalty[left]
        best = left[int(np.argmax(gains))]
        picked.append(best)
        left.remove(best)
        redundancy = np.maximum(redundancy, similarity[best])
    return [hits[i] for i in picked]
