"""The ways of running all-MiniLM-L6-v2 that ``local_model_speed.py`` compares: each builds an
encoder (texts → normalised vectors) on the same model. Kept apart from the script's corpus
reading, timing and reporting."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
BATCH = 32
MAX_TOKENS = 256

Matrix = npt.NDArray[np.float32]
Encoder = Callable[[list[str]], Matrix]


# --- sentence-transformers paths -------------------------------------------------------------


def st_encoder(model: Any, *, presort: str | None = None, threads: int | None = None) -> Encoder:
    """``model.encode`` as the provider calls it; optionally batch by batch in a given order."""
    import torch

    def encode_all(texts: list[str]) -> Matrix:
        return np.asarray(
            model.encode(
                texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )

    def encode(texts: list[str]) -> Matrix:
        saved = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            if presort is None:
                return encode_all(texts)
            order = list(range(len(texts)))
            if presort == "tokens":
                lengths = [len(ids) for ids in model.tokenizer(texts)["input_ids"]]
                order.sort(key=lambda i: -lengths[i])
            out = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
            for start in range(0, len(texts), BATCH):
                picked = order[start : start + BATCH]
                out[picked] = encode_all([texts[i] for i in picked])
            return out
        finally:
            torch.set_num_threads(saved)

    return encode


def st_bf16_encoder(model: Any) -> Encoder:
    import torch

    def encode(texts: list[str]) -> Matrix:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = model.encode(
                texts, batch_size=BATCH, convert_to_tensor=True, show_progress_bar=False
            )
        vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
        return vectors.numpy().astype(np.float32)

    return encode


def torch_int8_encoder(model_path: str) -> Encoder:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return st_encoder(quantized)


CHILD_CODE = """
import sys, time, torch
torch.set_num_interop_threads(int(sys.argv[1]))
if int(sys.argv[5]):
    torch.set_num_threads(int(sys.argv[5]))
import numpy as np
from sentence_transformers import SentenceTransformer
texts = [line.rstrip("\\n").replace("\\\\n", "\\n").replace("\\\\\\\\", "\\\\")
         for line in open(sys.argv[3], encoding="utf-8")]
model = SentenceTransformer(sys.argv[2], device="cpu")
model.encode(texts[:32], batch_size=32)
started, cpu = time.perf_counter(), time.process_time()
vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
np.save(sys.argv[4], vectors.astype(np.float32))
print(elapsed, cpu)
"""


class InteropChild:
    """``st-fp32`` in a fresh interpreter that set ``torch.set_num_interop_threads`` first."""

    def __init__(self, model_path: str, interop: int, workdir: Path, threads: int) -> None:
        self.model_path = model_path
        self.threads = threads
        self.interop = interop
        self.workdir = workdir

    def run(self, texts: list[str]) -> tuple[float, float, Matrix]:
        inputs = self.workdir / "child_texts.txt"
        escaped = (t.replace("\\", "\\\\").replace("\n", "\\n") for t in texts)
        inputs.write_text("\n".join(escaped) + "\n", encoding="utf-8")
        output = self.workdir / "child_vectors.npy"
        files = [str(inputs), str(output), str(self.threads)]
        done = subprocess.run(
            [sys.executable, "-c", CHILD_CODE, str(self.interop), self.model_path, *files],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        elapsed, cpu = map(float, done.stdout.strip().splitlines()[-1].split())
        return elapsed, cpu, np.load(output)


# --- ONNX Runtime paths ----------------------------------------------------------------------


def export_onnx(model: Any, target: Path) -> Path:
    """The transformer plus mean pooling and L2 normalisation as one ONNX graph (once): the
    product's own export (``embeddings.onnx_export``), written under a temporary name."""
    if target.is_file():
        return target
    from embeddings.onnx_export import export_pooled

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    export_pooled(model, partial)
    partial.replace(target)
    return target


def fuse_onnx(model_path: str, cache: Path) -> Path:
    """onnxruntime's transformer optimizer on an export with eager attention (once).

    The optimizer recognises BERT's attention only in the eager pattern (the default ``sdpa``
    export is left unfused); the fused graph has Attention, EmbedLayerNormalization,
    SkipLayerNormalization and BiasGelu nodes, which is what ``optimum``'s graph optimisation
    produces too.
    """
    target = cache / "model-fused.onnx"
    if target.is_file():
        return target
    from onnxruntime.transformers import optimizer
    from sentence_transformers import SentenceTransformer

    eager = SentenceTransformer(
        model_path, device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    source = export_onnx(eager, cache / "model-eager.onnx")

    optimized = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
    )
    optimized.save_model_to_file(str(target))
    return target


@dataclass(frozen=True)
class QuantSpec:
    """One ``quantize_dynamic`` recipe; ``only``/``skip`` pick nodes with weights by name."""

    name: str
    note: str
    base: str = "plain"  # "plain" export or "fused" graph
    per_channel: bool = False
    weights_u8: bool = False  # QUInt8 weights (u8u8 kernels) instead of QInt8 (u8s8)
    only: tuple[str, ...] = ()  # quantize only weight MatMul/Attention nodes named like these
    skip: tuple[str, ...] = ()  # ... and leave these in fp32


def quantize(spec: QuantSpec, source: Path, target: Path) -> Path:
    if target.is_file():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source)).graph
    weights = {init.name for init in graph.initializer}
    nodes = None
    if spec.only or spec.skip:
        nodes = [
            node.name
            for node in graph.node
            if node.op_type in ("MatMul", "Attention")
            and any(name in weights for name in node.input)
            and (not spec.only or any(part in node.name for part in spec.only))
            and not any(part in node.name for part in spec.skip)
        ]
    quantize_dynamic(
        str(source),
        str(target),
        nodes_to_quantize=nodes,
        per_channel=spec.per_channel,
        weight_type=QuantType.QUInt8 if spec.weights_u8 else QuantType.QInt8,
        # The fused graph has contrib ops that shape inference cannot type.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return target


def ort_encoder(onnx_path: Path, model: Any, *, threads: int = 0) -> Encoder:
    """ONNX Runtime, tokenised like sentence-transformers, texts sorted by length, batch 32."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    wanted = [node.name for node in session.get_inputs()]
    tokenizer = model.tokenizer

    def encode(texts: list[str]) -> Matrix:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            picked = order[start : start + BATCH]
            features = tokenizer(
                [texts[i] for i in picked],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            feeds = {name: features[name].astype(np.int64) for name in wanted}
            out[picked] = session.run(None, feeds)[0]
        return out

    return encode


FFN_OUT = tuple(f"layer.{k}/output/dense" for k in range(6))  # FFN down-projections
QUANT_SPECS = [
    QuantSpec("ort-int8-dynamic", "ORT quantize_dynamic, defaults (per tensor)"),
    QuantSpec("ort-int8-per-channel", "same, weights per channel", per_channel=True),
    QuantSpec("ort-int8-pc-u8", "per channel, u8 weights", per_channel=True, weights_u8=True),
    QuantSpec(
        "ort-int8-pc-ffn1-only",
        "per channel, only the FFN up-projections",
        per_channel=True,
        only=("intermediate/dense",),
    ),
    QuantSpec(
        "ort-int8-pc-keep-ffn2",
        "per channel, FFN down-projections kept fp32",
        per_channel=True,
        skip=FFN_OUT,
    ),
    QuantSpec(
        "ort-int8-pc-u8-keep-ffn2",
        "per channel, u8 weights, FFN down-projections kept fp32",
        per_channel=True,
        weights_u8=True,
        skip=FFN_OUT,
    ),
    QuantSpec(
        "ort-fused-int8-pc-u8-keep-ffn2",
        "fused graph, per channel, u8, FFN down-projections fp32",
        base="fused",
        per_channel=True,
        weights_u8=True,
        skip=FFN_OUT,
    ),
]
