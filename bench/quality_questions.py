"""Question → page quality: do the judged questions find the page that answers them?

``../shared/eval/questions/dev-questions.tsv`` holds judged questions over PDFs of
``../shared/eval/pdfs`` (tab-separated ``id, filename, pages, kind, question, evidence``;
``pages`` 1-based and comma-separated, every page that answers; ``kind`` ``exact`` when the
question uses the page's own words, ``paraphrase`` otherwise). The PDFs the file names are
ingested through the product (``tracemonkey-scan.pdf`` is never among them: it repeats pages of
another). Each question is searched flat (``group=False``), so a result is a ranking of
passages; it is read as a ranking of pages, each (file, page) counted at its first passage.

- recall@5: the share of questions with an answering page among the first 5 pages;
- MRR@10: the mean of 1 / the rank of the first answering page (0 past 10);
- nDCG@10: binary gain per answering page, ideal = all of a question's pages first.

Reported per mode, over all questions and per kind, with paired 95% bootstrap intervals of
hybrid against each half. ``rank_pages`` and ``measure`` take any ranking function, so that
other systems (fusion variants) are measured the same way.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quality_refs import paired_interval, product_collection

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
QUESTIONS = EVAL / "questions" / "dev-questions.tsv"
#: Passages fetched per question: enough for 10 distinct pages on these PDFs.
PASSAGES = 60
METRICS = ("recall@5", "MRR@10", "nDCG@10")
MODES = ("dense", "keyword", "hybrid")

Page = tuple[str, int]
#: A system under test: the question → its passages' (filename, page), best first.
Ranker = Callable[[str], Sequence[Page]]


@dataclass(frozen=True)
class Question:
    id: str
    filename: str
    pages: frozenset[int]
    kind: str
    text: str


def read_questions(path: Path = QUESTIONS) -> list[Question]:
    if not path.is_file():
        sys.exit(f"{path} not found (../shared/eval is needed; nothing is copied)")
    with path.open(encoding="utf-8") as handle:
        return [
            Question(
                row["id"],
                row["filename"],
                frozenset(int(p) for p in row["pages"].split(",")),
                row["kind"],
                row["question"],
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def distinct_pages(passages: Iterable[Page], depth: int = 10) -> list[Page]:
    """The first ``depth`` distinct pages of a ranking of passages."""
    pages: list[Page] = []
    for page in passages:
        if page not in pages:
            pages.append(page)
            if len(pages) == depth:
                break
    return pages


def page_scores(ranked: Sequence[Page], question: Question) -> tuple[float, float, float]:
    """recall@5, reciprocal rank @10 and nDCG@10 of one ranking of distinct pages."""
    relevant = [name == question.filename and page in question.pages for name, page in ranked[:10]]
    recall = 1.0 if any(relevant[:5]) else 0.0
    first = next((rank for rank, hit in enumerate(relevant, start=1) if hit), None)
    reciprocal = 1.0 / first if first else 0.0
    gain = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(relevant, start=1) if hit)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(question.pages), 10) + 1))
    return recall, reciprocal, gain / ideal


def measure(questions: Sequence[Question], rank: Ranker) -> np.ndarray:
    """Per question (rows) each metric (columns, ``METRICS``)."""
    return np.array([page_scores(distinct_pages(rank(q.text)), q) for q in questions])


def report(questions: Sequence[Question], systems: dict[str, np.ndarray], base: str) -> None:
    """The table over all questions and per kind, then ``base`` against every other system."""
    kinds = sorted({q.kind for q in questions})
    groups = [("all", np.ones(len(questions), bool))] + [
        (kind, np.array([q.kind == kind for q in questions])) for kind in kinds
    ]
    header = " ".join(f"{f'{m} {g}':>18}" for g, _ in groups for m in METRICS[:2])
    print(f"\n{'system':34} {header} {'nDCG@10 all':>12}")
    for name, scores in systems.items():
        cells = " ".join(
            f"{scores[mask, column].mean():18.3f}" for _, mask in groups for column in (0, 1)
        )
        print(f"{name:34} {cells} {scores[:, 2].mean():12.3f}")
    counts = ", ".join(f"{g} {int(mask.sum())}" for g, mask in groups)
    print(f"questions: {counts}")
    print(f"\npaired difference, {base} minus each (95% bootstrap interval, seed 0)")
    for name, scores in systems.items():
        if name == base:
            continue
        cells = []
        for column, metric in enumerate(METRICS):
            ours, theirs = systems[base][:, column], scores[:, column]
            low, high = paired_interval(ours, theirs)
            cells.append(f"{metric} {float((ours - theirs).mean()):+.3f} [{low:+.3f}, {high:+.3f}]")
        print(f"  vs {name:30} " + "   ".join(cells))


def run() -> None:
    """The product's three modes on the dev questions, through a fresh collection."""
    from ingest.models import SourceFile
    from search.request import SearchRequest

    questions = read_questions()
    names = sorted({q.filename for q in questions})
    print(f"\n== questions: {len(questions)} judged questions over {len(names)} PDFs ==")
    started = time.perf_counter()
    files = [SourceFile(name, (EVAL / "pdfs" / name).read_bytes()) for name in names]
    with product_collection(files) as (services, outcomes):
        chunks = sum(o.chunks for o in outcomes)
        print(
            f"ingested {len(names)} PDFs, {chunks} chunks in {time.perf_counter() - started:.0f} s"
        )

        def ranker(mode: str) -> Ranker:
            def rank(text: str) -> list[Page]:
                request = SearchRequest(text, k=PASSAGES, mode=mode, group=False)
                return [(h.filename, h.page) for h in services.search.search(request).results]

            return rank

        systems = {f"product {mode}": measure(questions, ranker(mode)) for mode in MODES}
    report(questions, systems, "product hybrid")
