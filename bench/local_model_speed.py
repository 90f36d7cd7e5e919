"""The local model on CPU: which ways of running all-MiniLM-L6-v2 are faster, and how close.

Takes the first N chunks (default 1,000) that the product's own chunker makes from the
documents of a labelled corpus (../shared/eval/corpora, read by path): each text is loaded with
``ingest.loaders.load_document`` and cut by ``ingest.chunking.chunk_document`` with the default
``ChunkingSettings`` and ``load_default_tokenizer()``. Then, in one run, side by side, it embeds
those chunks with each path below and prints chunks/s, the ratio to the sentence-transformers
fp32 baseline measured in the same run, and the minimum and mean cosine similarity of each
chunk's vector to the baseline's vector for the same chunk:

* ``st-fp32``: the baseline, as ``LocalProvider`` does it: ``SentenceTransformer.encode`` on the
  bundled model folder, batch 32, normalised, torch's default threads. sentence-transformers
  already sorts a call's texts by length (characters, longest first) before cutting batches.
* ``st-unsorted``: the same model fed batch by batch in corpus order (one ``encode`` call per 32
  chunks), i.e. without that sort; ``st-token-sorted``: sorted by exact token count instead.
* ``st-threads-1`` / ``st-threads-2``: ``torch.set_num_threads`` around the call;
  ``st-interop-1``: ``torch.set_num_interop_threads(1)``, which only works before torch starts
  any parallel work, so it runs in a child process (model load not timed; same chunks).
* ``st-bf16-autocast`` (only when named in ``--paths``: emulated, about 5x slower on a CPU
  without native bf16): ``torch.autocast("cpu", dtype=torch.bfloat16)``;
  ``torch-int8-dynamic``: ``torch.ao.quantization.quantize_dynamic`` on the Linear layers.
* ``ort-*``: ONNX Runtime on an export of the same weights (``torch.onnx.export`` of the
  transformer with mean pooling and normalisation inside the graph, done once and cached under
  ``--cache-dir``). ``ort-fp32`` runs the plain export; ``ort-fp32-fused`` the graph after
  ``onnxruntime.transformers.optimizer`` (fused attention, LayerNorm and GELU, which is what
  ``optimum``'s graph optimisation does). ``ort-int8-*`` are ``quantize_dynamic`` variants:
  all ops, per channel, and partial ones that leave sensitive MatMuls in fp32.

Rounds alternate the paths (each round starts one path later), because the machine is shared
and noisy; the table gives the median of the rounds, the median of each round's ratio to the
baseline of the same round, and chunks per CPU-second of the process (all its threads), which
moves less with the load of other processes. Every path is warmed up once first. ``--threads N``
runs every path with N torch and ORT intra-op threads.

    .venv/bin/python bench/local_model_speed.py [--chunks 1000] [--rounds 3]
        [--corpus reuters-r8-train.tab] [--cache-dir /tmp/semsearch-local-model-speed]
        [--paths st-fp32,ort-fp32,...] [--threads 1] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "eval" / "corpora"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "semsearch-local-model-speed"
from local_model_paths import (  # noqa: E402  (bench/ is the script's folder on sys.path)
    BATCH,
    QUANT_SPECS,
    Encoder,
    InteropChild,
    Matrix,
    QuantSpec,
    export_onnx,
    fuse_onnx,
    ort_encoder,
    quantize,
    st_bf16_encoder,
    st_encoder,
    torch_int8_encoder,
)


def read_corpus(path: Path) -> Iterator[str]:
    """Texts after the three header lines; each line is `label<TAB>text`."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= 3 and "\t" in line:
                yield line.split("\t", 1)[1].strip()


def product_chunks(corpus: Path, limit: int) -> tuple[list[str], int]:
    """The first ``limit`` chunk texts the product's loader and chunker make, and the docs used."""
    from ingest.chunking import ChunkingSettings, chunk_document, load_default_tokenizer
    from ingest.loaders import load_document

    tokenizer = load_default_tokenizer()
    settings = ChunkingSettings()
    chunks: list[str] = []
    docs = 0
    for number, text in enumerate(read_corpus(corpus)):
        if not text:
            continue
        document = load_document(f"doc{number}.txt", text.encode("utf-8"))
        docs += 1
        chunks.extend(chunk.text for chunk in chunk_document(document, tokenizer, settings))
        if len(chunks) >= limit:
            break
    return chunks[:limit], docs


# --- running ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    name: str
    what: str
    encode: Encoder | None = None
    child: InteropChild | None = None
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    vectors: Matrix | None = None

    def run(self, texts: list[str]) -> tuple[float, float, Matrix]:
        """Wall seconds, CPU seconds of this process (all threads), vectors."""
        if self.child is not None:
            return self.child.run(texts)
        assert self.encode is not None
        started, cpu = time.perf_counter(), time.process_time()
        vectors = self.encode(texts)
        return time.perf_counter() - started, time.process_time() - cpu, vectors


def cosines(a: Matrix, b: Matrix) -> npt.NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return np.asarray((a64 * b64).sum(axis=1) / norms)


@contextmanager
def quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def build_paths(
    wanted: set[str] | None, model: Any, model_path: str, cache: Path, threads: int
) -> list[Candidate]:
    import torch

    default_threads = torch.get_num_threads()
    paths: list[Candidate] = []

    def add(
        name: str, what: str, make: Callable[[], Encoder | InteropChild], opt_in: bool = False
    ) -> None:
        """Prepare a path if it was asked for (``opt_in`` ones only by name with --paths)."""
        if name != "st-fp32" and (name not in wanted if wanted else opt_in):
            return
        print(f"  preparing {name} ...", flush=True)
        with quiet():
            made = make()
        if isinstance(made, InteropChild):
            paths.append(Candidate(name, what, child=made))
        else:
            paths.append(Candidate(name, what, encode=made))

    add(
        "st-fp32",
        f"sentence-transformers fp32, batch {BATCH}, threads {default_threads}",
        lambda: st_encoder(model),
    )
    add(
        "st-unsorted",
        "same, batch by batch in corpus order (no length sort)",
        lambda: st_encoder(model, presort="none"),
    )
    add(
        "st-token-sorted",
        "same, batch by batch sorted by token count",
        lambda: st_encoder(model, presort="tokens"),
    )
    for count in (1, 2):
        if count != default_threads:
            add(
                f"st-threads-{count}",
                f"torch.set_num_threads({count})",
                lambda t=count: st_encoder(model, threads=t),
            )
    add(
        "st-interop-1",
        "torch.set_num_interop_threads(1), child process",
        lambda: InteropChild(model_path, 1, cache, threads),
    )
    add(
        "st-bf16-autocast",
        "torch.autocast('cpu', bfloat16)",
        lambda: st_bf16_encoder(model),
        opt_in=True,  # emulated without AVX-512 BF16/AMX: about 5x slower here
    )
    add(
        "torch-int8-dynamic",
        "torch quantize_dynamic(Linear, qint8)",
        lambda: torch_int8_encoder(model_path),
    )

    plain = cache / "model.onnx"
    needs_onnx = wanted is None or any(name.startswith("ort-") for name in wanted)
    if needs_onnx:
        with quiet():
            export_onnx(model, plain)
    add(
        "ort-fp32", "ONNX Runtime, plain export", lambda: ort_encoder(plain, model, threads=threads)
    )
    add(
        "ort-fp32-fused",
        "ONNX Runtime, transformer-optimizer fused graph",
        lambda: ort_encoder(fuse_onnx(model_path, cache), model, threads=threads),
    )

    def base(spec: QuantSpec) -> Path:
        return plain if spec.base == "plain" else fuse_onnx(model_path, cache)

    for spec in QUANT_SPECS:
        add(
            spec.name,
            spec.note,
            lambda s=spec: ort_encoder(
                quantize(s, base(s), cache / f"{s.name}.onnx"), model, threads=threads
            ),
        )
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", default="reuters-r8-train.tab")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--paths", default="", help="comma-separated subset (st-fp32 always runs)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch.set_num_threads and ORT intra-op threads for every path (0: defaults)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    corpus = CORPORA / args.corpus
    if not corpus.is_file():
        sys.exit(f"corpus not found: {corpus} (../shared/eval/corpora is needed)")

    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings.local import bundled_model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    texts, docs = product_chunks(corpus, args.chunks)
    model_path = str(bundled_model_path())
    model = SentenceTransformer(model_path, device="cpu")
    tokens = [
        len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=256)["input_ids"]
    ]
    print(
        f"{len(texts)} chunks from {docs} documents of {args.corpus}; tokens per chunk "
        f"mean {statistics.mean(tokens):.0f}, max {max(tokens)}; {os.cpu_count()} CPUs, torch "
        f"threads {torch.get_num_threads()}, interop {torch.get_num_interop_threads()}"
    )
    wanted = {name.strip() for name in args.paths.split(",") if name.strip()} or None
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    paths = build_paths(wanted, model, model_path, args.cache_dir, args.threads)

    for path in paths:  # warm-up, and the vectors compared below
        if path.child is None:
            path.run(texts[:BATCH])
    for round_ in range(args.rounds):
        shift = round_ % len(paths)
        for path in paths[shift:] + paths[:shift]:
            with quiet():
                seconds, cpu, vectors = path.run(texts)
            path.seconds.append(seconds)
            path.cpu_seconds.append(cpu)
            if path.vectors is None:
                path.vectors = vectors
            print(
                f"  round {round_ + 1} {path.name:28} {len(texts) / seconds:7.1f} chunks/s",
                flush=True,
            )

    baseline = paths[0]
    assert baseline.vectors is not None
    n = len(texts)
    rows = []
    print()
    print(
        "| path | what | chunks/s (median) | rounds | ratio to st-fp32 | chunks per CPU-s "
        "| min cosine | mean cosine | chunks < 0.99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        assert path.vectors is not None
        rate = n / statistics.median(path.seconds)
        # Each round's ratio to the baseline of the same round, then their median.
        ratio = statistics.median(
            b / s for b, s in zip(baseline.seconds, path.seconds, strict=True)
        )
        per_cpu = n / statistics.median(path.cpu_seconds)
        runs = ", ".join(f"{n / s:.0f}" for s in path.seconds)
        cos = cosines(path.vectors, baseline.vectors)
        low = int((cos < 0.99).sum())
        rows.append(
            {
                "path": path.name,
                "what": path.what,
                "chunks_per_s": rate,
                "rounds": [n / s for s in path.seconds],
                "ratio": ratio,
                "chunks_per_cpu_s": per_cpu,
                "min_cosine": float(cos.min()),
                "mean_cosine": float(cos.mean()),
                "below_0_99": low,
            }
        )
        print(
            f"| {path.name} | {path.what} | {rate:.1f} | {runs} | {ratio:.2f} | {per_cpu:.1f} "
            f"| {cos.min():.4f} | {cos.mean():.5f} | {low} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
