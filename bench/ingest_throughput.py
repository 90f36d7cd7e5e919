"""Ingestion throughput: the whole pipeline next to the bare model, in one run.

Ingests the first N documents of a labelled corpus (../shared/eval/corpora) through the
product's own pipeline as `semsearch ingest` does (`IngestPipeline.ingest_many`: load → chunk →
embed in batches across files → store into Qdrant Edge), then embeds exactly the same chunk
texts with the bare model (`SentenceTransformer.encode`, same batch size). Prints both rates,
their ratio and the peak memory. It never fails on time: it prints figures. `--file-by-file`
times the old path instead (`IngestPipeline.ingest` once per file).

    .venv/bin/python bench/ingest_throughput.py [--docs 300] [--corpus reuters-r8-train.tab]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "eval" / "corpora"


def read_corpus(path: Path, limit: int) -> list[str]:
    """Texts after the three header lines; each line is `label<TAB>text`."""
    texts = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number < 3 or "\t" not in line:
                continue
            texts.append(line.split("\t", 1)[1].strip())
            if len(texts) == limit:
                break
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--corpus", default="reuters-r8-train.tab")
    parser.add_argument(
        "--file-by-file", action="store_true", help="time IngestPipeline.ingest once per file"
    )
    args = parser.parse_args()
    corpus = CORPORA / args.corpus
    if not corpus.is_file():
        sys.exit(f"corpus not found: {corpus} (../shared/eval is needed)")

    from sentence_transformers import SentenceTransformer

    from embeddings.local import bundled_model_path
    from ingest.models import SourceFile
    from web.services import open_services
    from web.settings import Settings

    texts = read_corpus(corpus, args.docs)
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_services(Settings(SEMSEARCH_DATA_DIR=tmp)) as services,
    ):
        services.pipeline.ingest("warmup.txt", b"warm up the model once before timing")
        files = [SourceFile(f"doc{number}.txt", text.encode()) for number, text in enumerate(texts)]
        started = time.perf_counter()
        if args.file_by_file:
            outcomes = [services.pipeline.ingest(f.name, f.data) for f in files]
        else:
            outcomes = list(services.pipeline.ingest_many(files))
        failed = [o for o in outcomes if o.status == "failed"]
        assert not failed, failed[:3]
        # The corpus repeats a few texts: a repeat is "unchanged" and embeds nothing.
        chunks = sum(o.chunks for o in outcomes if o.status == "done")
        repeats = sum(o.status == "unchanged" for o in outcomes)
        pipeline_s = time.perf_counter() - started
        chunk_texts = [str(r.payload["text"]) for r in services.store.scroll({"kind": "chunk"})]
        chunk_texts = [t for t in chunk_texts if t != "warm up the model once before timing"]
        batch_size = services.settings.embeddings_batch_size
        model = SentenceTransformer(str(bundled_model_path()), device="cpu")
        model.encode(["warm up"], batch_size=batch_size)
        started = time.perf_counter()
        model.encode(chunk_texts, batch_size=batch_size, normalize_embeddings=True)
        bare_s = time.perf_counter() - started

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pipeline_rate = chunks / pipeline_s
    bare_rate = len(chunk_texts) / bare_s
    print(f"corpus: {args.corpus}, documents: {len(texts)} ({repeats} repeated), chunks: {chunks}")
    path = "file by file" if args.file_by_file else "ingest_many "
    print(f"pipeline, load+chunk+embed+store, {path}: {pipeline_rate:7.1f} chunks/s")
    print(f"bare model encode, batch {batch_size}, same chunks:   {bare_rate:7.1f} chunks/s")
    print(f"ratio pipeline / bare: {pipeline_rate / bare_rate:.2f}")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
