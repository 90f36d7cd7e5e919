"""How hybrid search fuses its two halves: a weighted sum of their scores.

``score = 0.6 · cosine + 0.4 · BM25 / (the query's best BM25 among the candidates)``; a passage
missing from one half's candidates scores 0 there. This is txtai's default hybrid (a convex sum
of the cosine and a normalised BM25) without its index statistic, which Qdrant does not expose.

Why not RRF, which hybrid used before: RRF adds ranks, so a passage one half ranks first by a
wide margin, and the other misses, loses to almost any passage both halves rank in their top
sixty. A sum of scores keeps that margin; and because nothing is subtracted (unlike min-max),
a weak best BM25 match stays weak next to a strong cosine. Chosen on the training data only
(docs/quality.md, "Fusion variants": every variant tried, with paired intervals): on the dev
questions page MRR@10 0.857 → 0.887 (0.904 since PDF pages lose their running headers), on the
two training corpora level with RRF. The dense half's share of 0.6 is, of those tried (0.4 to
0.8), the one whose worst lower bound of its margin over the better half, across the three
benchmarks, is highest ("Running headers" there).

Both engines run each half as its own query and fuse here, so they fuse identically.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The dense half's share of a hybrid score; the keyword half has the rest.
DENSE_SHARE = 0.6

Scored = tuple[str, float]  # (point id, score)


def fuse(dense: Sequence[Scored], keyword: Sequence[Scored]) -> list[Scored]:
    """Every candidate of either half with its fused score, best first (ties: dense order,
    then keyword order)."""
    top = max((score for _, score in keyword), default=0.0)
    fused: dict[str, float] = {}
    for point, score in dense:
        fused[point] = fused.get(point, 0.0) + DENSE_SHARE * score
    if top > 0:
        for point, score in keyword:
            fused[point] = fused.get(point, 0.0) + (1 - DENSE_SHARE) * max(0.0, score) / top
    return sorted(fused.items(), key=lambda item: -item[1])
