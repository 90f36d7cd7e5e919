"""Hybrid fusion (``search.fusion``): a weighted sum of the cosine and the BM25 over the
query's best BM25, so a confident hit of one half keeps its margin (which RRF loses)."""

from __future__ import annotations

import pytest

from search.fusion import DENSE_SHARE, fuse


def test_a_passage_one_half_ranks_first_by_far_stays_on_top() -> None:
    """The shape of a dev question RRF lost: keyword ranks the answer first by far, dense does
    not find it; passages both halves rank middling (a so-so cosine, a few common words) must
    not bury it."""
    dense = [(f"both-{i}", 0.32 - 0.005 * i) for i in range(10)]
    keyword = [("answer", 15.1)] + [(f"both-{i}", 4.0 - 0.3 * i) for i in range(10)]
    fused = fuse(dense, keyword)
    assert fused[0][0] == "answer"
    # Under RRF (k = 61) the answer would come after every passage both halves hold.
    rrf = {p: 1 / (61 + r) for r, (p, _) in enumerate(dense)}
    for r, (p, _) in enumerate(keyword):
        rrf[p] = rrf.get(p, 0.0) + 1 / (61 + r)
    assert sorted(rrf, key=lambda p: -rrf[p]).index("answer") == 10


def test_scores_are_the_weighted_sum() -> None:
    fused = dict(fuse([("a", 0.5), ("b", 0.4)], [("b", 8.0), ("c", 2.0)]))
    assert fused["a"] == pytest.approx(DENSE_SHARE * 0.5)
    assert fused["b"] == pytest.approx(DENSE_SHARE * 0.4 + (1 - DENSE_SHARE) * 1.0)
    assert fused["c"] == pytest.approx((1 - DENSE_SHARE) * 0.25)
    assert max(fused.values()) <= 1.0


def test_without_keyword_candidates_dense_order_is_kept() -> None:
    dense = [("a", 0.7), ("b", 0.6), ("c", 0.6)]
    assert [p for p, _ in fuse(dense, [])] == ["a", "b", "c"]
    assert [p for p, _ in fuse(dense, [("z", 0.0)])][:3] == ["a", "b", "c"]
