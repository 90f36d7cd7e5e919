"""Search and clustering quality against labelled corpora, through the product's own code.

Each corpus is ingested once, into a temporary data folder, through the product's pipeline
(`IngestPipeline.ingest_many`: chunk → embed with the bundled all-MiniLM-L6-v2 → BM25 → Qdrant
Edge), one file `{line}.txt` per document, so a hit's filename gives back its label.

- retrieval: label precision@10, query by document. The index is a random sample of `--docs`
  documents (seed 0); `--queries` other documents are the queries, each cut to its first 30
  words. `SearchService.search(k=10, group=True)` in each mode (dense, keyword, hybrid); P@10 is
  the share of returned documents whose label is the query's. References in the same run: the
  bare model (whole-document vectors, cosine top 10) and plain Okapi BM25.
- clustering: V-measure and ARI of `cluster_documents(store, k)` against the labels, at k =
  number of labels and at automatic k (silhouette), the mean over sample seeds 0, 1, 2 where
  the collection is larger than the product's fitting sample (one fit otherwise); reference:
  the bare model's whole-document vectors with scikit-learn `KMeans(n_init=10)`, mean of seeds
  0, 1, 2.

Corpora (read by path from ../shared/eval/corpora, never copied): retrieval on
20newsgroups-train and reuters-r52-train, clustering on reuters-r8-train (all documents) and
20newsgroups-train (3,000 documents, the retrieval index sample). A full run takes long on two
CPU cores (embedding ~30 chunks/s); `--quick` runs small sizes as a smoke test.

    .venv/bin/python bench/quality.py [--part retrieval|clustering|all] [--corpus NAME ...]
        [--docs 3000] [--queries 300] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import quality_questions
from quality_refs import (
    BareModel,
    Bm25,
    Corpus,
    agreement,
    first_words,
    kmeans_reference,
    paired_interval,
    precision_per_query,
    read_corpus,
    top_k_cosine,
)

RETRIEVAL = ("20newsgroups-train.tab", "reuters-r52-train.tab")
CLUSTERING = ("reuters-r8-train.tab", "20newsgroups-train.tab")
MODES = ("dense", "keyword", "hybrid")
QUERY_WORDS = 30
K = 10
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--part", choices=("retrieval", "questions", "clustering", "all"), default="all"
    )
    parser.add_argument("--corpus", action="append", help="only this corpus (repeatable)")
    parser.add_argument("--docs", type=int, help="documents indexed (default 3000; r8: all)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="200 documents, 30 queries")
    parser.add_argument(
        "--reference-cache",
        default=str(Path.home() / ".cache" / "semsearch-bench"),
        help="where the bare model's vectors are kept between runs (empty: nowhere)",
    )
    args = parser.parse_args()
    if args.quick:
        args.docs, args.queries = args.docs or 200, min(args.queries, 30)

    plan: dict[str, set[str]] = {}
    if args.part in ("retrieval", "all"):
        for name in RETRIEVAL:
            plan.setdefault(name, set()).add("retrieval")
    if args.part in ("clustering", "all"):
        for name in CLUSTERING:
            plan.setdefault(name, set()).add("clustering")
    if args.corpus:
        wanted = {n if n.endswith(".tab") else f"{n}.tab" for n in args.corpus}
        plan = {n: p for n, p in plan.items() if n in wanted}
        plan.update({n: {"retrieval", "clustering"} for n in wanted - plan.keys()})
    if args.part in ("questions", "all"):
        quality_questions.run()
    if not plan:
        return
    bare = BareModel(Path(args.reference_cache) if args.reference_cache else None)
    for name, parts in plan.items():
        run_corpus(read_corpus(name), parts, args, bare)


def run_corpus(corpus: Corpus, parts: set[str], args: argparse.Namespace, bare: BareModel) -> None:
    n = len(corpus.texts)
    docs = args.docs or (n if parts == {"clustering"} and "r8" in corpus.name else 3000)
    queries = args.queries if "retrieval" in parts else 0
    if docs + queries > n:
        sys.exit(f"{corpus.name}: {n} documents, fewer than {docs} + {queries} queries")
    order = np.random.default_rng(SEED).permutation(n)
    index, asked = order[:docs].tolist(), order[docs : docs + queries].tolist()
    print(f"\n== {corpus.name}: {n} documents, {docs} indexed (sample seed {SEED}) ==")

    from ingest.models import SourceFile
    from search.store import compact
    from web.services import open_services
    from web.settings import Settings

    with (
        tempfile.TemporaryDirectory() as tmp,
        open_services(Settings(SEMSEARCH_DATA_DIR=tmp)) as services,
    ):
        started = time.perf_counter()
        files = (SourceFile(f"{i}.txt", corpus.texts[i].encode()) for i in index)
        outcomes = list(services.pipeline.ingest_many(files))
        failed = [o for o in outcomes if o.status == "failed"]
        assert not failed, failed[:3]
        compacted = compact(services.store)  # as `semsearch ingest` and a server start do
        chunks = sum(o.chunks for o in outcomes if o.status == "done")
        repeats = sum(o.status == "unchanged" for o in outcomes)
        print(
            f"ingested {docs} documents ({repeats} repeated texts, stored once), {chunks} chunks "
            f"in {time.perf_counter() - started:.0f} s (compaction {compacted or 0:.1f} s of it)"
        )
        started = time.perf_counter()
        index_vectors = bare.encode([corpus.texts[i] for i in index])
        print(f"bare model, whole documents: {time.perf_counter() - started:.0f} s")
        if "retrieval" in parts:
            retrieval(corpus, index, asked, services, bare, index_vectors)
        if "clustering" in parts:
            clustering(corpus, index, services, index_vectors)


def label_of(corpus: Corpus, filename: str) -> str:
    return corpus.labels[int(Path(filename).stem)]


def retrieval(corpus, index, asked, services, bare, index_vectors) -> None:
    from search.request import SearchRequest

    wanted = [corpus.labels[i] for i in asked]
    texts = [first_words(corpus.texts[i], QUERY_WORDS) for i in asked]
    rows: list[tuple[str, float, float, float]] = []
    per_query: dict[str, np.ndarray] = {}

    def measure(system: str, returned: list[list[str]], ms: float) -> None:
        per_query[system] = precision_per_query(returned, wanted)
        count = float(np.mean([len(labels) for labels in returned]))
        rows.append((system, float(per_query[system].mean()), count, ms))

    for mode in MODES:
        started = time.perf_counter()
        returned = [
            [
                label_of(corpus, hit.filename)
                for hit in services.search.search(
                    SearchRequest(q, k=K, mode=mode, group=True)
                ).results
            ]
            for q in texts
        ]
        ms = (time.perf_counter() - started) * 1000 / len(texts)
        measure(f"product {mode}", returned, ms)
    started = time.perf_counter()
    nearest = top_k_cosine(index_vectors, bare.encode(texts), K)
    ms = (time.perf_counter() - started) * 1000 / len(texts)
    returned = [[corpus.labels[index[j]] for j in row] for row in nearest]
    measure("reference: bare model, whole docs", returned, ms)
    started = time.perf_counter()
    best = Bm25([corpus.texts[i] for i in index]).top_k(texts, K)
    ms = (time.perf_counter() - started) * 1000 / len(texts)
    returned = [[corpus.labels[index[j]] for j in row] for row in best]
    measure("reference: plain BM25", returned, ms)

    print(f"\nretrieval, {corpus.name}: {len(index)} documents, {len(asked)} queries")
    print(f"{'system':38} {'P@10':>6} {'returned':>8} {'ms/query':>9}")
    for system, p, count, ms in rows:
        print(f"{system:38} {p:6.3f} {count:8.1f} {ms:9.1f}")
    hybrid = per_query["product hybrid"]
    print("\npaired difference in P@10 over the same queries (95% bootstrap interval, seed 0)")
    for other in ("product dense", "product keyword", *[r[0] for r in rows[3:]]):
        low, high = paired_interval(hybrid, per_query[other])
        gain = round(float((hybrid - per_query[other]).mean()), 3) + 0.0
        print(f"hybrid - {other:34} {gain:+.3f}  [{low:+.3f}, {high:+.3f}]")


def clustering(corpus, index, services, index_vectors) -> None:
    from search.cluster_fit import SAMPLE_SIZE
    from search.clustering import cluster_documents

    filenames = {
        str(r.payload["doc_id"]): str(r.payload["filename"])
        for r in services.store.scroll({"kind": "document"})
    }
    truth_all = [corpus.labels[i] for i in index]
    k_labels = len(set(truth_all))
    # The product draws no random number below SAMPLE_SIZE documents; above, its sample seed
    # is varied as the reference's k-means seed is.
    seeds = (0, 1, 2) if len(filenames) > SAMPLE_SIZE else (0,)
    rows: list[tuple[str, int, float, float, float]] = []
    k_auto = k_labels
    for k in (k_labels, None):
        figures = []
        for seed in seeds:
            started = time.perf_counter()
            response = cluster_documents(services.store, k, seed=seed)
            seconds = time.perf_counter() - started
            truth = [label_of(corpus, filenames[p.doc_id]) for p in response.points]
            found = [p.cluster for p in response.points]
            figures.append((response.k, *agreement(truth, found), seconds))
            if k is None and seed == 0:
                k_auto = response.k
            print(
                f"product, k {k or 'automatic'}, sample seed {seed}: k {response.k} "
                f"({response.k_chosen_by}), V {figures[-1][1]:.3f}, ARI {figures[-1][2]:.3f}"
            )
        ks = sorted({f[0] for f in figures})
        mean = np.mean([f[1:] for f in figures], axis=0)
        system = f"product, k {'= labels' if k else 'automatic'}"
        if len(seeds) > 1:
            system += f", mean of {len(seeds)} seeds"
        rows.append((system, ks[0] if len(ks) == 1 else -1, *mean.tolist()))
    for k, what in ((k_labels, "= labels"), (k_auto, "= product's automatic k")):
        started = time.perf_counter()
        v, ari = kmeans_reference(index_vectors, truth_all, k)
        seconds = time.perf_counter() - started
        rows.append((f"reference KMeans, k {what}", k, v, ari, seconds))

    print(f"\nclustering, {corpus.name}: {len(index)} documents, {k_labels} labels")
    print(f"{'system':46} {'k':>3} {'V-meas':>7} {'ARI':>6} {'seconds':>8}")
    for system, k, v, ari, seconds in rows:
        shown = "var" if k < 0 else str(k)
        print(f"{system:46} {shown:>3} {v:7.3f} {ari:6.3f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
