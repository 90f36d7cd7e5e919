"""The reranking step of a search: the first passages put in a cross-encoder's order.

The store's flat result comes back in retrieval order; the first ``top_n`` passages (after the
score threshold) go to the reranker (``embeddings.rerank``) with the query, and come first in
its order, each with its ``rerank_score``; the passages after them keep their retrieval order.
Grouping, paging and MMR then work on that order, so a document ranks by its best reranked
passage. Retrieval scores are kept as they were: ``score_threshold`` still reads them.

A reranker never makes a search fail and never falls back silently: whatever it raises (a
refused request, a timeout, a wrong answer, a configuration that could not be built) is caught
here and becomes the response's ``rerank_error``, with ``reranked: false``, and the search
answers in retrieval order. The reranker is asked at most once per search: a grouped search that
fetches a deeper page reuses the scores it has.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from embeddings.errors import EmbeddingError
from embeddings.rerank import DEFAULT_TOP_N, Reranker
from search.points import read_point
from search.store import ScoredHit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerankSetup:
    """The reranker a search service uses: none, one, or the reason the configured one could not
    be opened (every search that would rerank then says so)."""

    reranker: Reranker | None = None
    top_n: int = DEFAULT_TOP_N
    error: str | None = None

    @property
    def configured(self) -> bool:
        return self.reranker is not None or self.error is not None


@dataclass
class Reranking:
    """One search's use of the reranker: the scores it gave, or why it gave none."""

    setup: RerankSetup
    query: str
    #: Passages under the search's ``score_threshold`` are never sent (they are dropped anyway).
    threshold: float | None = None
    scores: dict[str, float] | None = None
    error: str | None = None
    took_ms: float | None = None
    _asked: bool = field(default=False, repr=False)

    @property
    def reranked(self) -> bool:
        return self.scores is not None and self.error is None

    def apply(self, scored: list[ScoredHit]) -> list[ScoredHit]:
        """``scored`` with its first ``top_n`` passages in the reranker's order (once asked,
        the same scores serve every later page of this search)."""
        if not scored:
            return scored
        if not self._asked:
            self._asked = True
            kept = [p for p in scored if self.threshold is None or p.score >= self.threshold]
            if not kept:
                self._asked = False  # nothing worth reranking yet: a deeper page may have some
                return scored
            self._ask(kept[: max(1, self.setup.top_n)])
        if not self.scores:
            return scored
        scores = self.scores
        ranked = sorted((p for p in scored if p.id in scores), key=lambda p: -scores[p.id])
        return ranked + [p for p in scored if p.id not in scores]

    def score_of(self, point_id: str) -> float | None:
        return self.scores.get(point_id) if self.scores else None

    def _ask(self, candidates: list[ScoredHit]) -> None:
        reranker = self.setup.reranker
        if reranker is None:
            self.error = self.setup.error or "no reranker is configured"
            return
        texts = [read_point(p.payload).text for p in candidates]
        started = time.perf_counter()
        try:
            scores = reranker.rerank(self.query, texts)
            if len(scores) != len(texts):
                raise ValueError(f"{len(scores)} scores for {len(texts)} passages")
        except EmbeddingError as exc:
            self.error = exc.message
            log.warning("search: reranking failed, results in retrieval order: %s", exc.message)
        except Exception as exc:  # a reranker's bug must not fail the search either
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("search: the reranker failed; results in retrieval order")
        else:
            self.scores = {p.id: float(s) for p, s in zip(candidates, scores, strict=True)}
        self.took_ms = round((time.perf_counter() - started) * 1000, 2)
