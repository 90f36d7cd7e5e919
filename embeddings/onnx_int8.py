"""The bundled model on ONNX Runtime, partly int8, for ``EMBEDDINGS_LOCAL_BACKEND=onnx-int8``.

``EMBEDDINGS_LOCAL_BACKEND=onnx-int8`` runs the bundled model on ONNX Runtime instead of torch,
with every weight MatMul in int8 (dynamic, per channel) except the six FFN down-projections,
which stay fp32: on 1,000 Reuters chunks that kept the cosine to torch's vectors at 0.9927 or
more on every chunk (all-int8 dropped to 0.98) for about 1.3x the speed on 2 CPU cores
(``bench/local_model_speed.py``, docs/benchmarks.md). The export is made once and cached.
Queries and very short texts still go through torch (see ``OnnxInt8Encoder``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from embeddings.base import Vector

log = logging.getLogger(__name__)

#: The onnx-int8 recipe; part of the cached export's name and of the vector cache's namespace.
ONNX_INT8_RECIPE = "onnx-int8-per-channel-fp32-ffn-down-v1"
_LAYERS = 6  # all-MiniLM-L6-v2


def onnx_int8_path(model: Any, model_folder: Path, cache_dir: Path) -> Path:
    """The bundled model exported to ONNX and partly quantised, made once into ``cache_dir``.

    Named by the recipe and the sha256 of ``model.safetensors``, written under a temporary name
    and renamed, so a half-written file is never loaded and two processes may race harmlessly.
    """
    digest = hashlib.sha256((model_folder / "model.safetensors").read_bytes()).hexdigest()[:16]
    target = cache_dir / f"all-MiniLM-L6-v2-{ONNX_INT8_RECIPE}-{digest}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("exporting the local model to %s (once)", target)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        plain = Path(tmp) / "fp32.onnx"
        _export_pooled(model, plain)
        quantised = Path(tmp) / "int8.onnx"
        _quantise_keeping_ffn_down(plain, quantised)
        os.replace(quantised, target)
    return target


def _export_pooled(model: Any, target: Path) -> None:
    """Transformer + mean pooling + L2 normalisation as one graph (what the torch path does)."""
    import warnings

    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, body: torch.nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.body(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = model.tokenizer(
        ["export the model", "a second, longer text so that one row is padded"],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model[0].auto_model).eval(),
            tuple(sample[name] for name in names),
            str(target),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names}
            | {"embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
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

    Texts are sorted by length (longest first) and cut into batches, each padded to its longest
    text and truncated at the model's ``max_seq_length``; the graph pools and normalises.

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
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[Vector] = [[] for _ in texts]
        for start in range(0, len(texts), batch_size):
            picked = order[start : start + batch_size]
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
