"""The measurements around `bench/search_latency.py`'s main run: the store's compaction log,
the engine's hybrid query timed alone, and a real `semsearch serve` started on the store
(its start to first search, latency and resident memory). Kept apart from the main run so
that each reads on its own; the figures are in docs/benchmarks.md, "The search graph in the
store"."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

# What a grouped search of k=10 fetches first (search.query: k * GROUP_OVERFETCH).
BARE_LIMIT = 80


class CompactionLog(logging.Handler):
    """The store's compaction log lines, read as the server writes them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        logger = logging.getLogger("search.edge_store")
        logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def done(self) -> bool:
        return any(line.startswith(("compaction done", "compaction failed")) for line in self.lines)

    def summary(self) -> str:
        return "; ".join(line for line in self.lines if line.startswith("compaction")) or "none"


def bare_before_compaction(data_dir: Path, model: Any, queries: list[str]) -> list[float]:
    """The bare hybrid query on the store as filled, in this process, before the app opens it;
    ``model``: the bench's SentenceTransformer, to embed the queries."""
    from search.factory import open_store
    from search.sparse import Bm25Encoder

    vectors = model.encode(queries, normalize_embeddings=True).tolist()
    encoder = Bm25Encoder()
    store = open_store(
        data_dir=data_dir, qdrant_url=None, qdrant_api_key=None, collection="documents"
    )
    try:
        timings = [
            hybrid_query_ms(store, encoder, q, d) for q, d in zip(queries, vectors, strict=True)
        ]
    finally:
        store.close()
    return timings[10:]  # past the first, which read cold pages


def hybrid_query_ms(store: Any, encoder: Any, q: str, dense: list[float]) -> float:
    """The engine's hybrid query of ``q`` (80 passages, chunks only), in milliseconds."""
    from search.points import CHUNKS_ONLY

    started = time.perf_counter()
    hits = store.query(
        mode="hybrid",
        dense=dense,
        sparse=encoder.embed_query(q),
        limit=BARE_LIMIT,
        where=CHUNKS_ONLY,
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert hits
    return elapsed


def dense_answers(
    shard: Any, vectors: Any, params: Any, *, limit: int, where: Any = None
) -> tuple[list[float], list[list[Any]]]:
    """Each dense query of ``vectors`` on an Edge shard with these ``SearchParams``: its time
    (ms) and the ids it found, best first."""
    import qdrant_edge as qe

    from search.store import DENSE_VECTOR

    times, answers = [], []
    for vector in vectors:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(list(map(float, vector)), using=DENSE_VECTOR),
            filter=where,
            params=params,
            with_payload=False,
        )
        started = time.perf_counter()
        hits = shard.query(request)
        times.append((time.perf_counter() - started) * 1000)
        answers.append([hit.id for hit in hits])
    return times, answers


def recall_at(k: int, answers: list[list[Any]], truth: list[list[Any]]) -> list[float]:
    """Per query, the share of the exact top ``k`` that the answer's top ``k`` found."""
    return [
        len(set(found[:k]) & set(exact[:k])) / max(1, len(exact[:k]))
        for found, exact in zip(answers, truth, strict=True)
    ]


def dense_recall(data_dir: Path, model: Any, queries: list[str], k: int = 10) -> list[str]:
    """Recall@k of the dense branch as the store queries it (the graph's beam, int8 candidates
    rescored, chunks only) against the exact scan of the stored vectors (``exact``: Qdrant then
    ignores the int8 copies too), over the model's vectors of ``queries``; on the shard opened
    directly, once the app has closed it. Then the same at two and four times the beam, so that
    one run shows what a wider beam would buy and cost."""
    import qdrant_edge as qe

    from search.edge_types import DENSE_EF, DENSE_PARAMS, EDGE
    from search.factory import edge_shard_folder
    from search.points import CHUNKS_ONLY
    from search.query_plan import Filter

    vectors = model.encode(queries, normalize_embeddings=True)
    chunks_only = EDGE.translate(Filter.of(CHUNKS_ONLY))
    shard = qe.EdgeShard.load(str(edge_shard_folder(data_dir, "documents")))
    lines = []
    try:
        exact = qe.SearchParams(exact=True)
        exact_ms, truth = dense_answers(shard, vectors, exact, limit=k, where=chunks_only)
        for beam in (DENSE_EF, 2 * DENSE_EF, 4 * DENSE_EF):
            params = qe.SearchParams(hnsw_ef=beam, quantization=DENSE_PARAMS.quantization)
            graph_ms, answers = dense_answers(shard, vectors, params, limit=k, where=chunks_only)
            found = recall_at(k, answers, truth)
            worst = sorted(found)[: max(1, len(found) // 100)]
            asked = "as the store asks" if beam == DENSE_EF else "not what the store asks"
            lines.append(
                f"dense branch recall@{k} against the exact scan, beam {beam} ({asked}): "
                f"{float(np.mean(found)):.4f} over {len(found)} queries (lowest 1%: "
                f"{float(np.mean(worst)):.2f}); p50 {percentile(graph_ms, 50):.2f} ms with the "
                f"graph, {percentile(exact_ms, 50):.1f} ms exact"
            )
    finally:
        shard.close()
    return lines


def server_process_figures(data_dir: Path, queries: list[str]) -> list[str]:
    """A real `semsearch serve` on the store: start to first search, latency, resident memory."""
    import os
    import subprocess

    import httpx

    from tests.processes import SEMSEARCH, free_port

    port = free_port()
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(SEMSEARCH), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/search"
    try:
        while True:
            try:
                if httpx.get(url, params={"q": queries[0]}, timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError("semsearch serve did not answer a search")
            time.sleep(0.05)
        first_s = time.perf_counter() - started
        timings, took, empty = [], [], 0
        with httpx.Client(timeout=60) as client:
            for q in queries[:200]:
                began = time.perf_counter()
                response = client.get(url, params={"q": q, "mode": "hybrid", "k": 10})
                timings.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
                body = response.json()
                empty += not body["results"]
                took.append(float(body["took_ms"]))
        status = Path(f"/proc/{process.pid}/status").read_text()
        memory = {
            line.split(":")[0]: int(line.split()[1]) / 1024 / 1024
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
    finally:
        process.terminate()
        process.wait(timeout=60)
    return [
        f"semsearch serve: start to first answered search {first_s:.1f} s",
        f"semsearch serve: API hybrid k=10 p50 {percentile(timings, 50):.1f} ms, "
        f"p99 {percentile(timings, 99):.1f} ms ({len(timings)} queries; took_ms p50 "
        f"{percentile(took, 50):.1f}; {empty} with no results)",
        f"server resident memory: {memory['VmRSS']:.2f} GiB after the searches, "
        f"peak {memory['VmHWM']:.2f} GiB",
    ]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))
