"""Search queries for the bundled model on ONNX Runtime, fp32, on one thread.

A query is one short text, so its cost is per-call overhead more than arithmetic: on this
2-core machine sentence-transformers took about 26 ms at the median for an 8-word query when
the machine was quiet, and over 200 ms when other work kept both cores busy (its two intra-op
threads wait for each other), while ONNX Runtime on one thread gave the same vector (cosine
1.000000 on 200 queries) in about 24 ms under that load (``bench/query_embedding.py``,
docs/benchmarks.md). It also runs outside the provider's lock, so a search no longer waits for
the ingestion thread's batch to finish.

The graph is the fp32 export of ``embeddings.onnx_export`` (the same one the int8 recipe starts
from), made once. ``LocalProvider`` checks it against torch on a probe text when it loads and
keeps torch if the two disagree or the export fails.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import Vector
from embeddings.onnx_export import INPUT_NAMES, cached_export

#: The fp32 recipe: part of the cached export's name.
ONNX_QUERY_RECIPE = "onnx-fp32-v1"
#: The probe text compared with torch when the encoder loads, and the cosine it must reach.
PROBE = "how do search engines rank documents by meaning?"
AGREEMENT = 0.9999


class OnnxQueryEncoder:
    """``encode(text)`` for one query; thread-safe (ONNX Runtime sessions are)."""

    def __init__(
        self, model: Any, model_folder: Path, cache_dir: Path, *, threads: int = 1
    ) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        self.path = cached_export(model, model_folder, cache_dir, ONNX_QUERY_RECIPE, None)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # 1 in the app; the benchmark also tries 2
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        # A copy, used under a lock of its own: a fast tokenizer sets its truncation state on
        # each call, and two threads in one raise "Already borrowed" (the model's own tokenizer
        # is busy in the ingestion thread).
        self._tokenizer = copy.deepcopy(model.tokenizer)
        self._tokenizer_lock = threading.Lock()
        self._max_length = int(model.max_seq_length)

    def encode(self, text: str) -> Vector:
        with self._tokenizer_lock:
            features = self._tokenizer(
                [text], truncation=True, max_length=self._max_length, return_tensors="np"
            )
        feeds = {name: features[name].astype("int64") for name in INPUT_NAMES}
        vector: Vector = self._session.run(None, feeds)[0][0].tolist()
        return vector

    def agrees_with(self, reference: Vector) -> float:
        """Cosine between this encoder's vector for ``PROBE`` and ``reference`` (torch's)."""
        mine, theirs = np.asarray(self.encode(PROBE)), np.asarray(reference)
        return float(mine @ theirs / (np.linalg.norm(mine) * np.linalg.norm(theirs)))
