"""Is there a relevance floor that tells a question the documents can answer from one they
cannot? Measured on the bundled model's dense cosine, the scale a default floor would use.

Two collections are ingested through the product's pipeline, into temporary data folders:
the text PDFs of ../shared/eval/pdfs (the ones the judged questions are about) and `--news`
documents of reuters-r52-train (seed 0). For every question the best passage's dense cosine
(`SearchService.search(mode="dense", k=1)`) is taken:

- answerable: each judged question of questions/dev-questions.tsv, asked of the PDFs;
- not answerable: the same questions asked of the news, and `--news-queries` news documents
  of 20newsgroups-train (their first 15 words) asked of the PDFs.

It prints the spread of each group and, for candidate floors, the share of answerable
questions a floor would turn away (each lost one is an answer not given) and the share of the
others it would stop before the model is called.

    .venv/bin/python bench/answer_floor.py [--news 500] [--news-queries 200]
"""

from __future__ import annotations

import argparse

import numpy as np
from quality_questions import EVAL, read_questions
from quality_refs import first_words, product_collection, read_corpus

FLOORS = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--news", type=int, default=500)
    parser.add_argument("--news-queries", type=int, default=200)
    args = parser.parse_args()
    judged = read_questions()
    questions = [q.text for q in judged]
    kinds = [q.kind for q in judged]

    from ingest.models import SourceFile

    names = sorted({q.filename for q in judged})
    pdf_files = [SourceFile(name, (EVAL / "pdfs" / name).read_bytes()) for name in names]
    reuters = read_corpus("reuters-r52-train.tab")
    picked = np.random.default_rng(0).permutation(len(reuters.texts))[: args.news]
    news_files = [SourceFile(f"{i}.txt", reuters.texts[i].encode()) for i in picked]
    newsgroups = read_corpus("20newsgroups-train.tab")
    asked = np.random.default_rng(1).permutation(len(newsgroups.texts))[: args.news_queries]
    news_questions = [first_words(newsgroups.texts[i], 15) for i in asked]

    answerable = best_scores(pdf_files, questions)
    off_news = best_scores(news_files, questions)
    off_pdfs = best_scores(pdf_files, news_questions)
    by_kind = {
        kind: [score for score, k in zip(answerable, kinds, strict=True) if k == kind]
        for kind in sorted(set(kinds))
    }

    print("\nbest passage's dense cosine (bundled all-MiniLM-L6-v2)")
    print(f"{'group':44} {'n':>4} {'min':>6} {'p5':>6} {'p50':>6} {'p95':>6} {'max':>6}")
    for name, scores in (
        ("answerable: dev questions → PDFs", answerable),
        *((f"  of them {kind}", scores) for kind, scores in by_kind.items()),
        ("off-topic: dev questions → Reuters news", off_news),
        ("off-topic: 20newsgroups openings → PDFs", off_pdfs),
    ):
        p5, p50, p95 = np.percentile(scores, [5, 50, 95])
        print(
            f"{name:44} {len(scores):>4} {min(scores):6.3f} {p5:6.3f} {p50:6.3f} {p95:6.3f} "
            f"{max(scores):6.3f}"
        )
    print(f"\n{'floor':>6} {'answerable lost':>16} {'off-topic stopped':>18}")
    off = np.array(off_news + off_pdfs)
    for floor in FLOORS:
        lost = float(np.mean(np.array(answerable) < floor))
        stopped = float(np.mean(off < floor))
        print(f"{floor:6.2f} {lost:16.1%} {stopped:18.1%}")


def best_scores(files: list, questions: list[str]) -> list[float]:
    """The best passage's dense score of each question, over a fresh collection of ``files``."""
    from search.request import SearchRequest

    with product_collection(files) as (services, _):
        scores = []
        for question in questions:
            found = services.search.search(SearchRequest(question, mode="dense", k=1))
            scores.append(found.results[0].score if found.results else -1.0)
        return scores


if __name__ == "__main__":
    main()
