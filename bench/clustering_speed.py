"""Clustering speed: 100,000 document points through a real Qdrant Edge store.

Draws N synthetic 384-d document vectors around 10 random centres on the unit sphere
(automatic k tries 2 to 12; normalised, seed 0), each with a short synthetic text (topic
words plus shared words) on one chunk point, upserts them in batches through the store
interface into Qdrant Edge in a temp folder, then times `cluster_documents` end to end
(scroll with vectors, automatic k, labels, PCA, response) and prints each phase, the k chosen,
the agreement with the true centres (adjusted Rand index), the cache's checks and a cached
call. It never fails on time: it prints figures.

    .venv/bin/python bench/clustering_speed.py [--docs 100000] [--centres 10] [--level document]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.cluster_cache import ClusterCache  # noqa: E402
from search.clustering import cluster_documents  # noqa: E402
from search.edge_store import EdgeStore  # noqa: E402
from search.points import DocumentFields, chunk_point, document_point  # noqa: E402
from search.revision import bump_revision, current_revision  # noqa: E402
from search.store import CollectionInfo, deferred_flush  # noqa: E402

DIMENSION = 384
BATCH = 1_000
NOISE = 0.05  # per dimension: cosine to the centre about 0.7


def synthetic(docs: int, centres: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vectors, their true centre and a short text per document."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, DIMENSION))
    middle /= np.linalg.norm(middle, axis=1, keepdims=True)
    truth = rng.integers(0, centres, size=docs)
    vectors = middle[truth] + rng.normal(scale=NOISE, size=(docs, DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    topic_words = [["".join(rng.choice(letters, 7)) for _ in range(15)] for _ in range(centres)]
    shared = ["".join(rng.choice(letters, 6)) for _ in range(200)]
    texts = [
        " ".join([*rng.choice(topic_words[t], 6), *rng.choice(shared, 6)]) for t in truth.tolist()
    ]
    return vectors.astype(np.float32), truth, texts


def fill(store: EdgeStore, vectors: np.ndarray, texts: list[str]) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    store.ensure_collection(CollectionInfo(model="synthetic", dimension=DIMENSION))
    with deferred_flush(store):
        for start in range(0, len(vectors), BATCH):
            points = []
            for i in range(start, min(start + BATCH, len(vectors))):
                doc_id = f"doc{i:07d}"
                owner = DocumentFields(doc_id, f"{doc_id}.txt", doc_id, "text/plain", stamp)
                dense = vectors[i].tolist()
                points.append(
                    document_point(
                        owner, pages=1, chunks=1, size=len(texts[i]), dense=dense, chunking={}
                    )
                )
                points.append(
                    chunk_point(
                        owner,
                        index=0,
                        text=texts[i],
                        page=1,
                        start=0,
                        end=len(texts[i]),
                        heading=None,
                        dense=dense,
                        sparse=None,
                    )
                )
            store.upsert(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=10)
    parser.add_argument("--level", choices=["document", "chunk"], default="document")
    args = parser.parse_args()
    from sklearn.metrics import adjusted_rand_score

    vectors, truth, texts = synthetic(args.docs, args.centres)
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder) / "qdrant" / "bench")
        try:
            started = time.perf_counter()
            fill(store, vectors, texts)
            print(f"upsert {args.docs:,} documents + chunks: {time.perf_counter() - started:.1f} s")
            timings: dict[str, float] = {}
            started, cpu = time.perf_counter(), time.process_time()
            result = cluster_documents(store, level=args.level, timings=timings)
            total, cpu = time.perf_counter() - started, time.process_time() - cpu
            for phase, seconds in timings.items():
                print(f"  {phase:<13} {seconds:6.2f} s")
            print(
                f"cluster_documents (level={args.level}, k=auto): {total:.2f} s wall, "
                f"{cpu:.2f} s CPU (all threads), load average {os.getloadavg()[0]:.1f}"
            )
            found = np.empty(len(result.points), dtype=int)
            index = {f"doc{i:07d}": i for i in range(args.docs)}
            order = [index[p.doc_id] for p in result.points]
            found[:] = [p.cluster for p in result.points]
            ari = adjusted_rand_score(truth[order], found)
            print(f"k chosen: {result.k} ({result.k_chosen_by}); true centres {args.centres}")
            print(f"adjusted Rand index against the true centres: {ari:.4f}")
            print("silhouette per k:", ", ".join(f"{k}: {s}" for k, s in result.k_scores.items()))
            print("largest cluster's label:", result.clusters[0].label)
            bump_revision(store)  # as the pipeline does after its writes
            started = time.perf_counter()
            assert current_revision(store) is not None
            print(f"cache check (a revision read): {time.perf_counter() - started:.3f} s")
            cache = ClusterCache(store)
            cache.clusters(level=args.level)
            started = time.perf_counter()
            cached = cache.clusters(level=args.level)
            print(f"cached call: {time.perf_counter() - started:.2f} s (cached={cached.cached})")
        finally:
            store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
