"""One search query embedded by the bundled model: torch (sentence-transformers) against the
ONNX Runtime fp32 encoder the product uses for queries (``embeddings.onnx_query``).

For each of 300 real 8-word queries (the first words of reuters-r52 documents), every way runs
once, in an order that alternates query by query, so that a busy moment of this shared machine
falls on all of them alike. Prints p50/p90 per way, the ratio to torch's p50, the least cosine
to torch's vector, and the load average.

    .venv/bin/python bench/query_embedding.py [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from search_latency import corpus_texts

QUERY_WORDS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    import torch

    from embeddings.local import LocalProvider
    from embeddings.onnx_query import OnnxQueryEncoder
    from embeddings.settings import EmbeddingSettings

    texts = corpus_texts("reuters-r52-train.tab")[: args.queries]
    queries = [" ".join(t.split()[:QUERY_WORDS]) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        torch_provider = LocalProvider(
            EmbeddingSettings(provider="local", local_query_backend="torch", local_cache_dir=tmp)
        )
        model = torch_provider._live_model()  # the same loaded model for every way
        folder = Path(torch_provider.model_source)
        one_thread = OnnxQueryEncoder(model, folder, Path(tmp))
        two_threads = OnnxQueryEncoder(model, folder, Path(tmp), threads=2)
        ways: dict[str, Callable[[str], list[float]]] = {
            f"torch, sentence-transformers ({torch.get_num_threads()} threads)": (
                torch_provider.embed_query
            ),
            "ONNX Runtime fp32, 1 thread (the product's)": one_thread.encode,
            "ONNX Runtime fp32, 2 threads": two_threads.encode,
        }
        for way in ways.values():  # warm up
            for query in queries[:10]:
                way(query)
        times: dict[str, list[float]] = {name: [] for name in ways}
        least: dict[str, float] = dict.fromkeys(ways, 1.0)
        for n, query in enumerate(queries):
            names = list(ways) if n % 2 == 0 else list(reversed(ways))
            vectors = {}
            for name in names:
                started = time.perf_counter()
                vectors[name] = np.asarray(ways[name](query))
                times[name].append((time.perf_counter() - started) * 1000)
            reference = vectors[next(iter(ways))]
            for name, vector in vectors.items():
                cosine = float(vector @ reference / np.linalg.norm(vector))
                least[name] = min(least[name], cosine)

    base = float(np.median(times[next(iter(ways))]))
    print(f"{len(queries)} queries of {QUERY_WORDS} words; load average {os.getloadavg()}")
    print(f"{'way':52} {'p50 ms':>7} {'p90 ms':>7} {'x torch':>8} {'min cos':>9}")
    for name in ways:
        p50, p90 = np.median(times[name]), np.percentile(times[name], 90)
        print(f"{name:52} {p50:7.2f} {p90:7.2f} {p50 / base:8.2f} {least[name]:9.6f}")


if __name__ == "__main__":
    main()
