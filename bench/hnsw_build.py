"""HNSW in Qdrant Edge: what its build costs, and what the graph buys a dense query, in one run.

The store builds no HNSW graph (``search.edge_shard``: ``m = 0``), because ``optimize()`` held
the process for 634 s at 100,000 points. This benchmark looks for the cause. It fills one shard
per variant with the same ``--points`` chunk points (random normalised 384-d dense vectors, the
pipeline's chunk payload with 4 chunks per document, every payload index the store creates),
then times ``EdgeShard.optimize()`` on each, and runs the same ``--queries`` random dense
queries (limit 80, what a grouped search of k=10 fetches) with the graph (``--ef``: its
``hnsw_ef``, Edge's default when not given) and exactly (``SearchParams(exact=True)``),
reporting p50 of each and recall@10 of the graph's answer against the exact one; ``--rescore``
rescores the int8 candidates on the stored vectors (2x oversampling).

Variants (``--variants``, comma-separated):

- ``scan``: the store's configuration today (int8 compaction, no graph);
- ``graph``: m = 16, ef_construct = 100, Qdrant's defaults otherwise: ``payload_m`` unset, so
  Qdrant also builds extra links for each value of each indexed keyword field that holds many
  points (its filtered-search sub-graphs);
- ``graph-no-payload``: the same with ``payload_m = 0``: the main graph only;
- ``graph-plain``: ``graph`` on float32 vectors without int8 quantization (the shards made
  before float16 and compaction);
- ``graph:M/EF``: ``graph`` with m = M and ef_construct = EF (the store's is ``graph:16/200``).

``--ef`` takes several beams, comma-separated: each is timed and its recall reported.

Random vectors are a hard case for HNSW (no clusters), so its recall here is a floor for real
embeddings; ``--embedded`` writes the bundled model's vectors of windows of the three corpora
instead (at most as many points as windows: 48,569) and asks the model's vectors of their
first 8 words; ``--model-like`` runs each variant on those and then, in the same run, on as
many ``bench/model_like_vectors.py`` draws fitted on ``--fit`` of them (same queries), which says
whether the model-like vectors that `search_latency.py --dense model-like` uses at 1,000,000
points flatter the graph's recall or not.
``--sparse`` also writes each point's BM25 vector, of a 120-word window of the
labelled corpora (``../shared/eval/corpora``), as the pipeline does.

    .venv/bin/python bench/hnsw_build.py [--points 20000] [--queries 100] [--variants ...]
        [--sparse]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe
from latency_phases import dense_answers, recall_at
from model_like_vectors import ModelLikeVectors, spread_sample
from search_latency import (
    CHUNKS_PER_DOCUMENT,
    QUERY_CORPUS,
    WINDOW_WORDS,
    corpus_texts,
    random_dense,
    synthetic_chunk,
    text_windows,
)

from search.edge_shard import ensure_indexes
from search.edge_types import DENSE_PARAMS, to_edge_point
from search.store import DENSE_VECTOR, SPARSE_VECTOR

DIMENSION = 384
BATCH = 1000
LIMIT = 80
RECALL_AT = 10


INT8 = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)


def hnsw(variant: str, full_scan_kb: int) -> qe.HnswIndexConfig:
    if variant.startswith("graph:"):  # graph:M/EF_CONSTRUCT
        m, ef_construct = (int(n) for n in variant.removeprefix("graph:").split("/"))
        return qe.HnswIndexConfig(m=m, ef_construct=ef_construct, full_scan_threshold=full_scan_kb)
    if variant == "scan":
        return qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000_000)
    if variant in ("graph", "graph-plain"):
        return qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=full_scan_kb)
    if variant == "graph-no-payload":
        return qe.HnswIndexConfig(
            m=16, ef_construct=100, full_scan_threshold=full_scan_kb, payload_m=0
        )
    raise SystemExit(f"unknown variant {variant!r}")


def create(path: Path, variant: str, full_scan_kb: int) -> qe.EdgeShard:
    plain = variant == "graph-plain"
    config = qe.EdgeConfig(
        vectors={
            DENSE_VECTOR: qe.EdgeVectorParams(
                size=DIMENSION,
                distance=qe.Distance.Cosine,
                datatype=qe.VectorStorageDatatype.Float32
                if plain
                else qe.VectorStorageDatatype.Float16,
            )
        },
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        quantization_config=None if plain else INT8,
        hnsw_config=hnsw(variant, full_scan_kb),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
    )
    shard = qe.EdgeShard.create(str(path), config)
    ensure_indexes(shard)
    return shard


def corpus_windows(limit: int) -> list[str]:
    """Up to ``limit`` windows of 120 words of reuters-r52, for BM25 vectors."""
    windows: list[str] = []
    for text in corpus_texts(QUERY_CORPUS):
        words = text.split()
        starts = range(0, len(words), WINDOW_WORDS)
        windows += [" ".join(words[i : i + WINDOW_WORDS]) for i in starts]
        if len(windows) >= limit:
            break
    return windows[:limit]


def fill(shard: qe.EdgeShard, points: int, with_sparse: bool, vectors: np.ndarray | None) -> None:
    from search.sparse import Bm25Encoder

    windows = corpus_windows(points) if with_sparse else []
    encoder = Bm25Encoder()
    rng = np.random.default_rng(0)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for start in range(0, points, BATCH):
        count = min(BATCH, points - start)
        dense = random_dense(rng, count) if vectors is None else vectors[start : start + count]
        batch = []
        for offset in range(count):
            n = start + offset
            doc, index = divmod(n, CHUNKS_PER_DOCUMENT)
            text = windows[n % len(windows)] if windows else f"chunk {index} of document {doc}"
            sparse = encoder.embed_document(text) if windows else None
            point = synthetic_chunk(n, text, dense[offset].tolist(), sparse, stamp)
            batch.append(to_edge_point(point))
        shard.update(qe.UpdateOperation.upsert_points(batch))
    shard.flush()


def query_times(
    shard: qe.EdgeShard,
    queries: np.ndarray,
    exact: bool,
    ef: int | None = None,
    rescore: bool = False,
) -> tuple[list[float], list[list[Any]]]:
    quantization = DENSE_PARAMS.quantization if rescore else None  # as the store rescores
    params = qe.SearchParams(exact=exact, hnsw_ef=ef, quantization=quantization)
    return dense_answers(shard, queries, params, limit=LIMIT)


def embedded(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """The bundled model's vectors of the windows (of all three corpora, 48,569 at most), and
    of the first 8 words of some of them; from ``--vectors-cache`` when it holds them (the
    embedding of 48,569 windows takes about 10 minutes on 2 cores), written there otherwise."""
    cache = args.vectors_cache
    if cache is not None and cache.is_file():
        saved = np.load(cache)
        print(f"vectors and queries read from {cache}")
        return saved["vectors"][: args.points], saved["queries"][: args.queries]
    from embeddings.factory import build_provider
    from embeddings.settings import EmbeddingSettings

    windows = text_windows(args.points)
    provider = build_provider(EmbeddingSettings())
    started = time.perf_counter()
    vectors = np.asarray(provider.embed_documents(windows), dtype=np.float32)
    step = max(1, len(windows) // args.queries)
    asked = [" ".join(w.split()[:8]) for w in windows[::step][: args.queries]]
    queries = np.asarray([provider.embed_query(q) for q in asked], dtype=np.float32)
    print(f"embedded {len(windows):,} windows in {time.perf_counter() - started:.0f} s")
    if cache is not None:
        np.savez(cache, vectors=vectors, queries=queries)
    return vectors, queries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--variants", default="scan,graph-no-payload,graph")
    parser.add_argument("--sparse", action="store_true", help="write BM25 vectors too")
    parser.add_argument("--ef", default="", help="hnsw_ef of the queries, comma-separated")
    parser.add_argument(
        "--vectors-cache", type=Path, default=None, help="an .npz of the embedded vectors"
    )
    parser.add_argument(
        "--rescore", action="store_true", help="int8 candidates rescored, 2x oversampling"
    )
    parser.add_argument("--embedded", action="store_true", help="the bundled model's vectors")
    parser.add_argument(
        "--model-like", action="store_true", help="the model's vectors, then model-like draws"
    )
    parser.add_argument("--fit", type=int, default=2000, help="embeddings the model-like fit uses")
    parser.add_argument(
        "--full-scan-kb", type=int, default=10_000, help="full_scan_threshold of the graph"
    )
    args = parser.parse_args()
    queries = random_dense(np.random.default_rng(1), args.queries)
    sets: list[tuple[str, np.ndarray | None]] = [("random", None)]
    if args.embedded or args.model_like:
        vectors, queries = embedded(args)
        args.points = len(vectors)
        sets = [("model", vectors)]
        if args.model_like:
            model_like = ModelLikeVectors(np.asarray(spread_sample(list(vectors), args.fit)))
            print(model_like.describe())
            sets.append(("model-like", model_like.draw(np.random.default_rng(2), len(vectors))))
    sparse = ", with BM25 vectors" if args.sparse else ""
    for kind, points in sets:
        print(f"{args.points:,} {kind} points{sparse}, {len(queries)} queries, limit {LIMIT}")
        for variant in args.variants.split(","):
            run_variant(args, variant, points, queries)


def run_variant(
    args: argparse.Namespace, variant: str, vectors: np.ndarray | None, queries: np.ndarray
) -> None:
    with tempfile.TemporaryDirectory(prefix="semsearch-hnsw-") as folder:
        shard = create(Path(folder) / "shard", variant, args.full_scan_kb)
        started = time.perf_counter()
        fill(shard, args.points, args.sparse, vectors)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        shard.optimize()
        built = time.perf_counter() - started
        exact_ms, exact_ids = query_times(shard, queries, exact=True)
        beams: list[int | None] = [int(e) for e in args.ef.split(",") if e]
        for ef in beams or [None]:
            graph_ms, graph_ids = query_times(
                shard, queries, exact=False, ef=ef, rescore=args.rescore
            )
            recall = statistics.mean(recall_at(RECALL_AT, graph_ids, exact_ids))
            graph_p50, exact_p50 = statistics.median(graph_ms), statistics.median(exact_ms)
            print(
                f"{variant:18s} fill {filled:6.1f} s  optimize {built:7.1f} s  "
                f"ef {ef or 'default'}: query p50 {graph_p50:6.2f} ms (exact {exact_p50:6.2f})  "
                f"recall@{RECALL_AT} {recall:.3f}",
                flush=True,
            )
        shard.close()


if __name__ == "__main__":
    main()
