"""The bundled model on ONNX Runtime, partly int8, for ``EMBEDDINGS_LOCAL_BACKEND=onnx-int8``.

``EMBEDDINGS_LOCAL_BACKEND=onnx-int8`` runs the bundled model on ONNX Runtime instead of torch,
with every weight MatMul in int8 (dynamic, per channel) except the six FFN down-projections,
which stay fp32: on 1,000 Reuters chunks that kept the cosine to torch's vectors at 0.9927 or
more on every chunk (all-int8 dropped to 0.98) for about 1.3x the speed on 2 CPU cores
(``bench/local_model_speed.py``, docs/benchmarks.md). The export is made once and cached.
Queries and very short texts still go through torch (see ``OnnxInt8Encoder``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embeddings.base import Vector
from embeddings.length_batches import batches_by_tokens
from embeddings.onnx_export import cached_export

#: The onnx-int8 recipe; part of the cached export's name and of the vector cache's namespace.
ONNX_INT8_RECIPE = "onnx-int8-per-channel-fp32-ffn-down-v1"
_LAYERS = 6  # all-MiniLM-L6-v2


def onnx_int8_path(model: Any, model_folder: Path, cache_dir: Path) -> Path:
    """The bundled model exported and partly quantised, made once into ``cache_dir``."""
    return cached_export(
        model, model_folder, cache_dir, ONNX_INT8_RECIPE, _quantise_keeping_ffn_down
    )


def _quantise_keeping_ffn_down(source: Path, target: Path) -> None:
    """Dynamic int8, weights per channel, for every weight MatMul but the FFN down-projections.

    Those six (``layer.N/output/dense``, after GELU) are the ones whose int8 error moved vectors
    below 0.99 cosine; the attention score MatMuls have no weights and stay fp32 anyway.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    graph = onnx.load(str(source)).graph
    weights = {init.name for init in graph.initializer}
    kept = tuple(f"layer.{k}/output/dense/" for k in range(_LAYERS))
    matmuls = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and any(name in weights for name in node.input)
    ]
    chosen = [name for name in matmuls if not any(part in name for part in kept)]
    if len(matmuls) - len(chosen) != _LAYERS or len(chosen) != 5 * _LAYERS:
        raise RuntimeError(f"unexpected MatMul nodes in the export: {matmuls}")
    quantize_dynamic(
        str(source),
        str(target),
        nodes_to_quantize=chosen,
        per_channel=True,
        weight_type=QuantType.QInt8,
    )


class OnnxInt8Encoder:
    """``encode`` for the bundled model on ONNX Runtime (CPU), like sentence-transformers does.

    Texts are sorted by length in tokens (longest first) and cut into batches
    (``embeddings.length_batches``), each padded to its longest text and truncated at the
    model's ``max_seq_length``; the graph pools and normalises.

    Very short texts are left to torch (``short_texts``): a text of one word or so came out at
    0.98 cosine to torch's vector (0.9927 was the worst of 1,000 real chunks), and such texts
    cost torch next to nothing. Queries are left to torch as well, by ``LocalProvider``.
    """

    #: Texts of fewer tokens than this (with [CLS] and [SEP]) go to torch.
    SHORT_TOKENS = 16

    def __init__(self, model: Any, model_folder: Path, cache_dir: Path) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        self.path = onnx_int8_path(model, model_folder, cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [node.name for node in self._session.get_inputs()]
        self._tokenizer = model.tokenizer
        self._max_length = int(model.max_seq_length)

    def short_texts(self, texts: list[str]) -> set[int]:
        """Indexes of the texts under ``SHORT_TOKENS`` tokens."""
        counted = self._tokenizer(texts, truncation=True, max_length=self.SHORT_TOKENS)
        return {i for i, ids in enumerate(counted["input_ids"]) if len(ids) < self.SHORT_TOKENS}

    def encode(self, texts: list[str], batch_size: int) -> list[Vector]:
        if not texts:
            return []
        out: list[Vector] = [[] for _ in texts]
        batches = batches_by_tokens(
            self._tokenizer, texts, batch_size=batch_size, max_length=self._max_length
        )
        for picked in batches:
            features = self._tokenizer(
                [texts[i] for i in picked],
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="np",
            )
            feeds = {name: features[name].astype("int64") for name in self._inputs}
            vectors = self._session.run(None, feeds)[0]
            for row, index in enumerate(picked):
                out[index] = vectors[row].tolist()
        return out
