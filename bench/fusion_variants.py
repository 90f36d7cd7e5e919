"""Which way of fusing the dense and keyword halves should hybrid search use? Every variant,
side by side, on the same candidates.

Each collection is built once through the product (as ``bench/quality.py`` builds it): the dev
questions' PDFs, and the 3,000-document samples (seed 0) of 20newsgroups-train and
reuters-r52-train with their 300 query documents (first 30 words). Every query is searched
by each half alone, flat, through ``SearchService.search(mode=…, group=False, k=100)``: the
same 100 candidates each half's prefetch gives the product's hybrid. Every variant then fuses
those two lists in Python, as Qdrant would fuse its prefetches:

- ``rrf k=K [w=D:S]``: Qdrant's RRF, ``Σ 1 / (K + rank)`` with rank from 0, and its weighted
  form ``Σ 1 / ((rank + 1) / w + K - 1)`` (the product's hybrid today is ``rrf k=61``; its
  engine run is printed too, as a check);
- ``dbsf``: Qdrant's distribution-based score fusion: each list's scores mapped from
  [mean - 3sd, mean + 3sd] to [0, 1], then summed; ``dbsf w=…`` weights the halves;
- ``minmax a=A``: each list min-max normalised, ``A·dense + (1 - A)·keyword`` (the convex
  combination txtai tunes); a point missing from a list scores 0 there;
- ``sum …``: txtai's default score sum without its index statistic (``score_sum``): the
  cosine and BM25 over its list's top, nothing subtracted.

Documents (the corpora's P@10, grouped) take the best of their passages (``max``), or the sum
of their best two (``top2``). Pages (the questions) are read at their first passage. Paired
95% bootstrap intervals compare each variant with the better half of that benchmark.

    .venv/bin/python bench/fusion_variants.py [--docs 3000] [--queries 300]
        [--cache ~/.cache/semsearch-bench]

The candidate lists are kept in ``--cache`` (named by the benchmark and its sizes), so that a
second run only fuses. The product's own hybrid run is kept with them: after a change to the
product's fusion (``search.fusion``), give a fresh ``--cache`` for its row to be rerun.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import quality_questions as qq
from quality_refs import first_words, paired_interval, product_collection, read_corpus

CANDIDATES = 100
CORPORA = ("20newsgroups-train.tab", "reuters-r52-train.tab")

# One candidate: (point id, score, group key: a document or a page).
Candidate = tuple[str, float, str]
Fuse = Callable[[list[Candidate], list[Candidate]], list[tuple[str, float, str]]]


def rrf(k: float, dense_weight: float = 1.0, keyword_weight: float = 1.0) -> Fuse:
    def fuse(dense: list[Candidate], keyword: list[Candidate]) -> list[tuple[str, float, str]]:
        scores: dict[str, float] = {}
        groups: dict[str, str] = {}
        for weight, ranking in ((dense_weight, dense), (keyword_weight, keyword)):
            for rank, (point, _, group) in enumerate(ranking):
                # Qdrant's weighted RRF (qdrant_client.hybrid.fusion): the weight stretches
                # the rank, 1 / ((rank + 1) / w + k - 1); with w = 1 it is 1 / (k + rank).
                scores[point] = scores.get(point, 0.0) + 1 / ((rank + 1) / weight + k - 1)
                groups[point] = group
        return _ordered(scores, groups)

    return fuse


def normalised(kind: str, dense_weight: float = 1.0, keyword_weight: float = 1.0) -> Fuse:
    """``kind`` "dbsf" (mean ± 3sd, clipped) or "minmax"; a weighted sum of the two."""

    def scale(ranking: list[Candidate]) -> dict[str, float]:
        if not ranking:
            return {}
        values = np.array([score for _, score, _ in ranking])
        if kind == "dbsf":
            low, high = values.mean() - 3 * values.std(), values.mean() + 3 * values.std()
        else:
            low, high = values.min(), values.max()
        span = high - low
        return {
            point: float(np.clip((score - low) / span, 0, 1)) if span > 0 else 1.0
            for point, score, _ in ranking
        }

    def fuse(dense: list[Candidate], keyword: list[Candidate]) -> list[tuple[str, float, str]]:
        groups = {point: group for point, _, group in dense + keyword}
        scores: dict[str, float] = {}
        for weight, ranking in ((dense_weight, dense), (keyword_weight, keyword)):
            for point, value in scale(ranking).items():
                scores[point] = scores.get(point, 0.0) + weight * value
        return _ordered(scores, groups)

    return fuse


def score_sum(dense_share: float, scale_dense: bool) -> Fuse:
    """What txtai's default hybrid does, without its index statistic: ``a·cosine + (1 - a)·
    bm25 / top bm25`` (``scale_dense``: the cosine divided by the top cosine too). Unlike
    min-max, nothing is subtracted, so a half's margin over zero is kept: a passage that one
    half ranks first by far, and the other misses, still comes out near the top."""

    def fuse(dense: list[Candidate], keyword: list[Candidate]) -> list[tuple[str, float, str]]:
        groups = {point: group for point, _, group in dense + keyword}
        scores: dict[str, float] = {}
        top_dense = max((s for _, s, _ in dense), default=1.0) if scale_dense else 1.0
        top_keyword = max((s for _, s, _ in keyword), default=1.0)
        for weight, ranking, top in (
            (dense_share, dense, top_dense),
            (1 - dense_share, keyword, top_keyword),
        ):
            for point, score, _ in ranking:
                value = max(0.0, score) / top if top > 0 else 0.0
                scores[point] = scores.get(point, 0.0) + weight * value
        return _ordered(scores, groups)

    return fuse


def _ordered(scores: dict[str, float], groups: dict[str, str]) -> list[tuple[str, float, str]]:
    return sorted(((p, s, groups[p]) for p, s in scores.items()), key=lambda c: -c[1])


def shallow(fuse: Fuse, depth: int) -> Fuse:
    """``fuse`` over prefetches of ``depth`` candidates each instead of 100."""
    return lambda dense, keyword: fuse(dense[:depth], keyword[:depth])


def half(which: int) -> Fuse:
    """One half alone (0 dense, 1 keyword): the reference each variant must reach."""

    def alone(dense: list[Candidate], keyword: list[Candidate]) -> list[tuple[str, float, str]]:
        return [(point, score, group) for point, score, group in (dense, keyword)[which]]

    return alone


def variants() -> dict[str, Fuse]:
    found: dict[str, Fuse] = {"dense alone": half(0), "keyword alone": half(1)}
    for k in (1, 10, 30, 61, 100):
        found[f"rrf k={k}"] = rrf(k)
    for dense_weight, keyword_weight in ((1, 2), (2, 1), (1, 1.5), (1.5, 1), (3, 1)):
        found[f"rrf k=61 w={dense_weight}:{keyword_weight}"] = rrf(61, dense_weight, keyword_weight)
    found["dbsf"] = normalised("dbsf")
    for depth in (20, 50):
        found[f"rrf k=61 depth={depth}"] = shallow(rrf(61), depth)
        found[f"dbsf depth={depth}"] = shallow(normalised("dbsf"), depth)
    for dense_weight in (0.3, 0.7):
        found[f"dbsf w={dense_weight}:{1 - dense_weight:.1f}"] = normalised(
            "dbsf", dense_weight, 1 - dense_weight
        )
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
        found[f"minmax a={alpha}"] = normalised("minmax", alpha, 1 - alpha)
    for alpha in (0.4, 0.5, 0.6, 0.7, 0.8):
        found[f"sum cos+bm25/top a={alpha}"] = score_sum(alpha, scale_dense=False)
        found[f"sum cos/top+bm25/top a={alpha}"] = score_sum(alpha, scale_dense=True)
    return found


def grouped(fused: Sequence[tuple[str, float, str]], aggregate: str, depth: int) -> list[str]:
    """Group keys (documents or pages) best first: by their best passage, or their best two."""
    totals: dict[str, list[float]] = {}
    for _, score, group in fused:
        totals.setdefault(group, []).append(score)
    if aggregate == "max":
        ranked = sorted(totals, key=lambda g: -max(totals[g]))
    else:
        ranked = sorted(totals, key=lambda g: -sum(sorted(totals[g], reverse=True)[:2]))
    return ranked[:depth]


# -- the candidates ------------------------------------------------------------------------------


def candidates_of(services, queries: Sequence[str], key: Callable) -> dict[str, list]:
    """Each half's flat candidates of every query, and the product's own hybrid."""
    from search.request import SearchRequest

    lists: dict[str, list] = {}
    for mode in ("dense", "keyword", "hybrid"):
        lists[mode] = [
            [
                (hit.point_id, hit.score, key(hit))
                for hit in services.search.search(
                    SearchRequest(q, k=CANDIDATES, mode=mode, group=False)
                ).results
            ]
            for q in queries
        ]
    return lists


def built(cache: Path | None, name: str, build: Callable[[], dict]) -> dict:
    path = cache / f"fusion-{name}.json" if cache else None
    if path and path.is_file():
        return json.loads(path.read_text())
    data = build()
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return data


def questions_data() -> dict:
    from ingest.models import SourceFile

    questions = judged_questions()
    names = sorted({q.filename for q in questions})
    files = [SourceFile(n, (qq.EVAL / "pdfs" / n).read_bytes()) for n in names]
    with product_collection(files) as (services, _):
        texts = [q.text for q in questions]
        return candidates_of(services, texts, lambda hit: f"{hit.filename}\t{hit.page}")


def corpus_data(name: str, docs: int, queries: int) -> dict:
    from ingest.models import SourceFile

    corpus = read_corpus(name)
    order = np.random.default_rng(0).permutation(len(corpus.texts))
    index, asked = order[:docs].tolist(), order[docs : docs + queries].tolist()
    files = (SourceFile(f"{i}.txt", corpus.texts[i].encode()) for i in index)
    with product_collection(files) as (services, _):
        texts = [first_words(corpus.texts[i], 30) for i in asked]
        data = candidates_of(
            services,
            texts,
            lambda hit: corpus.labels[int(Path(hit.filename).stem)] + "\t" + hit.doc_id,
        )
    data["wanted"] = [corpus.labels[i] for i in asked]
    return data


# -- measures ------------------------------------------------------------------------------------


@functools.cache
def judged_questions() -> tuple[qq.Question, ...]:
    return tuple(qq.read_questions())


def question_scores(data: dict, fuse: Fuse, aggregate: str) -> np.ndarray:
    rows = []
    for i, question in enumerate(judged_questions()):
        fused = fuse(data["dense"][i], data["keyword"][i])
        pages = [(g.split("\t")[0], int(g.split("\t")[1])) for g in grouped(fused, aggregate, 10)]
        rows.append(qq.page_scores(pages, question))
    return np.array(rows)


def corpus_scores(data: dict, fuse: Fuse, aggregate: str) -> np.ndarray:
    rows = []
    for i, wanted in enumerate(data["wanted"]):
        fused = fuse(data["dense"][i], data["keyword"][i])
        labels = [g.split("\t")[0] for g in grouped(fused, aggregate, 10)]
        rows.append(sum(label == wanted for label in labels) / 10)
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "semsearch-bench"))
    args = parser.parse_args()
    cache = Path(args.cache) if args.cache else None

    benchmarks: dict[str, tuple[dict, Callable]] = {
        "questions MRR@10": (
            built(cache, "questions", questions_data),
            lambda d, f, a: question_scores(d, f, a)[:, 1],
        ),
    }
    for name in CORPORA:
        data = built(
            cache,
            f"{Path(name).stem}-{args.docs}-{args.queries}",
            lambda n=name: corpus_data(n, args.docs, args.queries),
        )
        benchmarks[f"{Path(name).stem.split('-')[0]} P@10"] = (data, corpus_scores)

    table: dict[str, dict[str, np.ndarray]] = {}
    for aggregate in ("max", "top2"):
        for variant, fuse in variants().items():
            name = variant if aggregate == "max" else f"{variant} · top2"
            if aggregate == "top2" and variant.endswith("alone"):
                continue
            table[name] = {
                b: score(data, fuse, aggregate) for b, (data, score) in benchmarks.items()
            }
    for b, (data, score) in benchmarks.items():
        engine_run = {**data, "dense": data["hybrid"]}  # read as a "half" of its own
        table.setdefault("product hybrid (engine)", {})[b] = score(engine_run, half(0), "max")

    names = list(benchmarks)
    print(f"\n{'variant':30} " + " ".join(f"{n:>30}" for n in names))
    for variant, scores in table.items():
        cells = []
        for n in names:
            better = max(("dense alone", "keyword alone"), key=lambda h: table[h][n].mean())
            ours, theirs = scores[n], table[better][n]
            low, high = paired_interval(ours, theirs)
            margin = f"{float((ours - theirs).mean()):+.3f} [{low:+.3f},{high:+.3f}]"
            cells.append(f"{ours.mean():6.3f} {margin:>23}")
        print(f"{variant:30} " + " ".join(f"{c:>30}" for c in cells))
    print("\neach cell: the mean, then its paired margin over the better half of that benchmark")


if __name__ == "__main__":
    main()
