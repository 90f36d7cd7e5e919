"""Search latency: `GET /api/search` of the real app next to the bare work, in one run.

Fills an embedded Qdrant Edge store with `--points` synthetic chunk points through the store
interface (random normalised 384-d dense vectors; BM25 vectors from `Bm25Encoder` of real text
windows cut from the labelled corpora; the pipeline's chunk payload; 4 chunks per document;
the collection point of the bundled model, so the app accepts the store). Then runs the real
app (`create_app`, its lifespan opening the services as `semsearch serve` does) with uvicorn
on 127.0.0.1 in a thread and times `GET /api/search?q=...&mode=hybrid&k=10` with one
kept-alive httpx client, over `--queries` real query texts (the first words of reuters-r52
documents). For each query, in the same run, it also times the bare work: the query embedded
the way the app embeds queries (`embeddings.onnx_query.OnnxQueryEncoder`, ONNX Runtime fp32,
a second instance on the app's export) plus BM25, and the engine's hybrid query through the
same store (`store.query`, 80 passages: what a grouped search of k=10 fetches). API and bare
calls alternate, so that load on the machine hits both alike; torch's encode of each query
(`SentenceTransformer.encode`, what the app used before) is timed after them, for comparison.

    .venv/bin/python bench/search_latency.py [--points 100000] [--queries 500] [--rerank]
        [--server-process]

Around that main run, in the same run: the bare work on the store as filled (before any
compaction: every dense vector scanned), the app's searches while its compaction builds the
HNSW graph in the builder process (``search.edge_graph``; the server must not freeze), the
build's own time and the hand-over's, and the same searches once the graph is in. Then
``--server-process`` starts a real `semsearch serve` on the same folder and reports the time
from its start to its first answered search, its API p50/p99, and its own resident memory
(VmRSS after the searches, VmHWM its peak) from /proc.

``--rerank`` configures the app with a reranker (``RERANK_ENDPOINT`` at a loopback TEI stand-in,
``tests/fake_rerank.py``, which answers at once) and times each query a third way, reranked,
alternating with the other two: the reranked search's extra time over ``rerank=false`` is set
against ``rerank_ms``, the time the search spent in the reranker's call, so that what
reranking adds beyond its call shows on its own.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from latency_phases import (
    CompactionLog,
    bare_before_compaction,
    dense_recall,
    hybrid_query_ms,
    percentile,
    server_process_figures,
)
from model_like_vectors import ModelLikeVectors, spread_sample

if TYPE_CHECKING:
    from search.store import StoredPoint

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "eval" / "corpora"
TEXT_CORPORA = ("20newsgroups-train.tab", "reuters-r52-train.tab", "reuters-r8-train.tab")
QUERY_CORPUS = "reuters-r52-train.tab"
WINDOW_WORDS = 120
CHUNKS_PER_DOCUMENT = 4
DIMENSION = 384
UPSERT_BATCH = 1000


def corpus_texts(name: str) -> list[str]:
    path = CORPORA / name
    if not path.is_file():
        sys.exit(f"corpus not found: {path} (../shared/eval/corpora is needed)")
    with path.open(encoding="utf-8") as handle:
        lines = [line.split("\t", 1) for n, line in enumerate(handle) if n >= 3 and "\t" in line]
    return [text.strip() for _, text in lines if text.strip()]


def text_windows(limit: int | None = None) -> list[str]:
    """Up to ``limit`` (default: all) windows of WINDOW_WORDS words, in corpus order (48,569 in
    all: with more points than that, points reuse them in turn)."""
    windows: list[str] = []
    for name in TEXT_CORPORA:
        for text in corpus_texts(name):
            words = text.split()
            for start in range(0, len(words), WINDOW_WORDS):
                windows.append(" ".join(words[start : start + WINDOW_WORDS]))
                if len(windows) == limit:
                    return windows
    return windows


def random_dense(rng: np.random.Generator, count: int) -> np.ndarray:
    dense = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return dense


def fill_store(
    data_dir: Path,
    points: int,
    model_id: str,
    draw: Callable[[np.random.Generator, int], np.ndarray] = random_dense,
) -> float:
    """Write the synthetic chunk points and the collection point; returns seconds taken.
    ``draw``: the dense vectors (random normalised, or ``ModelLikeVectors.draw``)."""
    from search.factory import open_store
    from search.sparse import Bm25Encoder
    from search.store import CollectionInfo

    started = time.perf_counter()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    windows = text_windows(points)
    encoder = Bm25Encoder()
    sparse = [encoder.embed_document(w) for w in windows]  # reused when points > windows
    rng = np.random.default_rng(0)
    store = open_store(
        data_dir=data_dir, qdrant_url=None, qdrant_api_key=None, collection="documents"
    )
    try:
        store.ensure_collection(CollectionInfo(model=model_id, dimension=DIMENSION))
        deferred = getattr(store, "deferred_flush", None)
        with deferred() if deferred else nullcontext():
            for start in range(0, points, UPSERT_BATCH):
                count = min(UPSERT_BATCH, points - start)
                dense = draw(rng, count)
                batch = [
                    synthetic_chunk(
                        start + offset,
                        windows[(start + offset) % len(windows)],
                        dense[offset].tolist(),
                        sparse[(start + offset) % len(windows)],
                        stamp,
                    )
                    for offset in range(count)
                ]
                store.upsert(batch)
    finally:
        store.close()
    return time.perf_counter() - started


def synthetic_chunk(n: int, text: str, dense: list[float], sparse: Any, stamp: str) -> StoredPoint:
    """Chunk ``n`` of the synthetic collection: document ``n // CHUNKS_PER_DOCUMENT``, with the
    pipeline's chunk payload (also used by ``bench/hnsw_build.py``)."""
    from search.points import DocumentFields, chunk_point

    doc, index = divmod(n, CHUNKS_PER_DOCUMENT)
    owner = DocumentFields(f"{doc:064x}", f"doc{doc}.txt", f"doc{doc}", "text/plain", stamp)
    return chunk_point(
        owner,
        index=index,
        text=text,
        page=1,
        start=0,
        end=len(text),
        heading="",
        dense=dense,
        sparse=sparse,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--query-words", type=int, default=8)
    parser.add_argument("--rerank", action="store_true", help="time reranked searches too")
    parser.add_argument(
        "--server-process",
        action="store_true",
        help="then start `semsearch serve` on the store: start time, latency, resident memory",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where the store's temporary folder goes"
    )
    parser.add_argument(
        "--dense",
        choices=("random", "model-like"),
        default="random",
        help="the points' dense vectors: random normalised, or drawn like the model's "
        "(bench/model_like_vectors.py); with model-like, recall@10 of the dense branch too",
    )
    parser.add_argument("--fit", type=int, default=2000, help="embeddings the model-like fit uses")
    parser.add_argument(
        "--keep", action="store_true", help="keep the filled store's folder (for ingest_throughput)"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # tests.fake_rerank: the TEI stand-in the tests use
    import httpx
    from sentence_transformers import SentenceTransformer

    from embeddings.local import bundled_model_path
    from embeddings.onnx_query import OnnxQueryEncoder
    from embeddings.threaded import serve_in_thread
    from search.sparse import Bm25Encoder
    from tests.fake_rerank import FakeRerankServer
    from web.app import create_app
    from web.settings import Settings

    queries = [" ".join(t.split()[: args.query_words]) for t in corpus_texts(QUERY_CORPUS)]
    queries = queries[: args.queries]
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    draw = random_dense
    if args.dense == "model-like":
        sample = spread_sample(text_windows(), args.fit)
        model_like = ModelLikeVectors(model.encode(sample, normalize_embeddings=True))
        print(model_like.describe(), flush=True)
        draw = model_like.draw
    with (
        (
            nullcontext(tempfile.mkdtemp(dir=args.data_dir))
            if args.keep
            else tempfile.TemporaryDirectory(dir=args.data_dir)
        ) as tmp,
        FakeRerankServer() as reranker,
    ):
        endpoint = f"{reranker.url}/rerank" if args.rerank else ""
        settings = Settings(SEMSEARCH_DATA_DIR=tmp, RERANK_ENDPOINT=endpoint)
        model_id = settings.embeddings().model
        fill_s = fill_store(settings.data_dir, args.points, model_id, draw)
        print(
            f"store: {args.points} chunk points ({args.dense} dense vectors, model {model_id}) "
            f"written in {fill_s:.0f} s" + (f", kept in {tmp}" if args.keep else ""),
            flush=True,
        )
        scan_ms = bare_before_compaction(settings.data_dir, model, queries[:100])

        compaction = CompactionLog()
        app_started = time.perf_counter()
        app = create_app(settings)
        with (
            serve_in_thread(app, lifespan="on", start_timeout_s=300) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            store = app.state.services.store
            # The query encoder the app uses (embeddings.onnx_query), a second instance of it
            # on the export the app made at start; torch is timed beside it for comparison.
            query_encoder = OnnxQueryEncoder(
                model, bundled_model_path(), Path(settings.embeddings().local_cache_dir)
            )
            encoder = Bm25Encoder()

            def api(q: str, rerank: bool = False) -> tuple[float, float, float]:
                params: dict[str, str | int | bool] = {"q": q, "mode": "hybrid", "k": 10}
                params["rerank"] = rerank
                started = time.perf_counter()
                response = client.get("/api/search", params=params)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                body = response.json()
                assert body["results"], body
                assert body["reranked"] is rerank, body["rerank_error"]
                return elapsed, float(body["took_ms"]), float(body["rerank_ms"] or 0)

            def torch_encode(q: str) -> float:
                started = time.perf_counter()
                model.encode(q, normalize_embeddings=True)
                return (time.perf_counter() - started) * 1000

            def bare(q: str) -> tuple[float, float, float]:
                """Encode + BM25 + the engine's query; the encode; the engine's query."""
                started = time.perf_counter()
                dense = query_encoder.encode(q)
                encode_ms = (time.perf_counter() - started) * 1000
                query_ms = hybrid_query_ms(store, encoder, q, dense)
                return (time.perf_counter() - started) * 1000, encode_ms, query_ms

            api(queries[0])
            first_search_s = time.perf_counter() - app_started
            during_api, during_bare = [], []
            for q in itertools.cycle(queries):  # while the graph is built beside the server
                if compaction.done():
                    break
                during_api.append(api(q)[0])
                during_bare.append(bare(q)[2])
            for q in queries[:20]:  # warm up every path
                api(q)
                bare(q)
                if args.rerank:
                    api(q, rerank=True)
            api_ms, took_ms, bare_ms, encode_ms, torch_ms = [], [], [], [], []
            engine_ms: list[float] = []
            reranked_ms, rerank_call_ms, rerank_extra_ms, beyond_call_ms = [], [], [], []
            for number, q in enumerate(queries):
                timed: dict[str, tuple[float, ...]] = {}
                order = ["api", "bare", "rerank"] if args.rerank else ["api", "bare"]
                shift = number % len(order)
                for path in order[shift:] + order[:shift]:  # each path goes first in turn
                    if path == "api":
                        timed[path] = api(q)
                    elif path == "bare":
                        timed[path] = bare(q)
                    else:
                        timed[path] = api(q, rerank=True)
                a, t, _ = timed["api"]
                b, e, engine = timed["bare"]
                engine_ms.append(engine)
                api_ms.append(a)
                took_ms.append(t)
                bare_ms.append(b)
                encode_ms.append(e)
                torch_ms.append(torch_encode(q))
                if args.rerank:
                    r, _, call = timed["rerank"]
                    reranked_ms.append(r)
                    rerank_call_ms.append(call)
                    rerank_extra_ms.append(r - a)
                    beyond_call_ms.append(r - a - call)
        # On the same store, once the app has closed it (one process per folder).
        recall_lines: list[str] = []
        if args.dense == "model-like":  # random vectors' recall means nothing (hnsw_build.py)
            recall_lines = dense_recall(settings.data_dir, model, queries)
        server_lines: list[str] = []
        if args.server_process:
            server_lines = server_process_figures(settings.data_dir, queries)

    print(f"queries: {len(queries)} (first {args.query_words} words of {QUERY_CORPUS} documents)")
    print(f"{'':44} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}  (ms)")
    for name, values in (
        ("API GET /api/search hybrid k=10 (client)", api_ms),
        ("  of which SearchService.search (took_ms)", took_ms),
        ("bare: query encode + BM25 + store.query", bare_ms),
        ("  of which query encode (ONNX Runtime fp32)", encode_ms),
        ("for comparison: torch encode of the query", torch_ms),
    ):
        print(
            f"{name:44} {percentile(values, 50):7.1f} {percentile(values, 90):7.1f} "
            f"{percentile(values, 99):7.1f} {statistics.fmean(values):7.1f}"
        )
    if args.rerank:
        print(f"with a reranker: the fake TEI at /rerank, {len(reranker.requests)} requests")
        for name, values in (
            ("API, reranked (first 40 passages)", reranked_ms),
            ("  of which the reranker's call (rerank_ms)", rerank_call_ms),
            ("extra over rerank=false, same query", rerank_extra_ms),
            ("  that extra less the reranker's call", beyond_call_ms),
        ):
            print(
                f"{name:44} {percentile(values, 50):7.1f} {percentile(values, 90):7.1f} "
                f"{percentile(values, 99):7.1f} {statistics.fmean(values):7.1f}"
            )
    ratio = percentile(api_ms, 50) / percentile(bare_ms, 50)
    print(f"API p50 / bare p50: {ratio:.2f} (target <= 1.3); API p50 target <= 30 ms")
    print(f"in-process app: start to first answered search {first_search_s:.1f} s")
    print(f"index build (graph, builder process): {compaction.summary()}")
    for name, values in (
        ("engine hybrid query, before compaction (scan)", scan_ms),
        ("engine hybrid query, while the graph was built", during_bare),
        ("engine hybrid query, with the graph", engine_ms),
        ("API while the graph was built", during_api),
        ("API with the graph (the run above)", api_ms),
    ):
        if values:
            print(
                f"{name:48} p50 {percentile(values, 50):7.1f}  p99 {percentile(values, 99):7.1f}"
                f"  ({len(values)} queries)"
            )
    for line in recall_lines + server_lines:
        print(line)


if __name__ == "__main__":
    main()
