"""Ingestion throughput: the whole pipeline next to the bare model, in alternating rounds.

Ingests the first N documents of a labelled corpus (../shared/eval/corpora) through the
product's own pipeline as `semsearch ingest` does (`IngestPipeline.ingest_many`: check → read
in the isolated reader's worker process → chunk → embed in batches across files → store into
Qdrant Edge), and embeds exactly the texts it embeds (each chunk after its document's title
line) with the bare model (`SentenceTransformer.encode`, same batch size). A third arm times
the product's own model calls alone (`LocalProvider.embed_documents` over the same texts in
slices of the runner's size), so that pipeline / model calls says what the pipeline adds to
its embedding, apart from how the product calls the model (slices; batches cut by length in
tokens, `embeddings.length_batches`).

Why rounds: on a shared machine the bare model's own rate moved by a quarter between two
phases of one run, so a ratio of one pipeline phase to one bare phase said little. Each round
times every arm once, the order reversed from one round to the next (A B, B A, A B, ...), and
the ratio pipeline / bare is taken per round; the median of the rounds is the figure.

Each pipeline arm of each round ingests into a fresh data folder (a new store and an empty
vector cache: nothing is "unchanged" or cached from an earlier round), with one model loaded
once and shared by all (`open_services(..., embedder=...)`), warmed up, and its reader's worker
started by one small file before the clock starts.

- `--reader isolated` (default) reads as the server and `semsearch ingest` do
  (`IsolatedReader`); `--reader in-process` reads with `load_document` in this process, as an
  `IngestPipeline` built without a reader does; `--reader isolated,in-process` times both as
  arms of the same rounds, which is what says what isolation costs. Both then read ahead on
  one thread (what the services use) unless `--read-ahead` says otherwise, so that the arms
  differ by the reader alone.
- `--read-ahead 0,1`: one pipeline arm per value (threads loading the next files while a slice
  embeds, `ingest.read_ahead`); side by side in the same rounds. Without it, one arm: the
  pipeline as the services wire it.
- `--file-by-file` times `IngestPipeline.ingest` once per file (the path before batching).

- `--prefilled DIR`: one more pipeline arm, the same ingestion into the store of the data
  folder DIR (one `search_latency.py --keep` filled: 1,000,000 chunk points and their graph),
  which says whether a large store slows ingestion. Each round then appends "round N" to every
  file of both pipeline arms, so that the prefilled store takes new documents every round, and
  that arm's vector cache is emptied before it runs. The store is opened as the services open
  it, without the server's compaction (which waits for writes to pause).

It never fails on time: it prints figures.

    .venv/bin/python bench/ingest_throughput.py [--docs 300] [--rounds 3] [--read-ahead 0,1]
        [--prefilled DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "eval" / "corpora"
WARM_UP = b"warm up the model and the reader once before timing"
CALLS = "product's model calls"


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


@dataclass
class Arm:
    """One thing timed once per round: chunks/s per round, in round order."""

    name: str
    rates: list[float] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--corpus", default="reuters-r8-train.tab")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--reader", default="isolated", help="isolated, in-process, or both comma-separated"
    )
    parser.add_argument(
        "--read-ahead",
        default=None,
        help="comma-separated read-ahead thread counts, one pipeline arm each",
    )
    parser.add_argument(
        "--file-by-file", action="store_true", help="time IngestPipeline.ingest once per file"
    )
    parser.add_argument(
        "--prefilled", type=Path, default=None, help="a filled data folder: one more arm into it"
    )
    args = parser.parse_args()
    readers = args.reader.split(",")
    if not readers or not set(readers) <= {"isolated", "in-process"}:
        sys.exit(f"--reader takes isolated, in-process or both, not {args.reader!r}")
    corpus = CORPORA / args.corpus
    if not corpus.is_file():
        sys.exit(f"corpus not found: {corpus} (../shared/eval is needed)")

    from sentence_transformers import SentenceTransformer

    sys.path.insert(0, str(ROOT))  # tests.pipeline_support: the pipeline the tests build too
    from embeddings.factory import build_provider
    from embeddings.local import bundled_model_path
    from ingest.chunking import chunk_document, embedding_text, load_default_tokenizer, title_line
    from ingest.loaders import load_document
    from ingest.models import SourceFile
    from ingest.pipeline import IngestPipeline
    from ingest.runner import EMBED_SLICE
    from tests.pipeline_support import pipeline_over
    from web.services import Services, open_services
    from web.settings import Settings

    texts = read_corpus(corpus, args.docs)
    files = [SourceFile(f"doc{number}.txt", text.encode()) for number, text in enumerate(texts)]
    # The shared model's own folder (the query export, should one be made), gone at the end.
    model_dir = tempfile.TemporaryDirectory()
    base_settings = Settings(SEMSEARCH_DATA_DIR=model_dir.name)
    tokenizer = load_default_tokenizer()
    # What the pipeline embeds: each distinct file's chunks as ChunkStage cuts them, each after
    # its document's title line.
    distinct = {f.data: f for f in files}.values()
    chunking = base_settings.chunking()
    chunk_texts = []
    for f in distinct:
        document = load_document(f.name, f.data)
        title = title_line(document.title, tokenizer, chunking)
        chunk_texts += [
            embedding_text(title, chunk.text)
            for chunk in chunk_document(document, tokenizer, chunking)
        ]
    batch_size = base_settings.embeddings_batch_size
    embedder = build_provider(base_settings.embeddings())
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(["warm up"], batch_size=batch_size)

    def pipeline_of(services: Services, reader: str, read_ahead: int | None) -> IngestPipeline:
        """The services' own pipeline, or one like it with this reader and read-ahead."""
        if reader == "isolated" and read_ahead is None:
            return services.pipeline
        read = services.reader.load if reader == "isolated" else load_document
        return pipeline_over(services, read=read, read_ahead=read_ahead or 0, tokenizer=tokenizer)

    rounds_begun = [0]

    def round_files() -> list[SourceFile]:
        """The files; with --prefilled, each marked with the round, so that none is known."""
        if args.prefilled is None:
            return files
        marker = f"\n\nround {rounds_begun[0]}".encode()
        return [SourceFile(f.name, f.data + marker) for f in files]

    def time_pipeline(
        reader: str, read_ahead: int | None, into: Path | None = None
    ) -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(SEMSEARCH_DATA_DIR=into or tmp)
            cache = settings.embeddings_cache_path
            for stale in (cache, *cache.parent.glob(cache.name + "-*")):
                stale.unlink(missing_ok=True)
            with open_services(settings, embedder=embedder) as services:
                pipeline = pipeline_of(services, reader, read_ahead)
                pipeline.ingest("warmup.txt", WARM_UP)
                ingested = round_files()
                started = time.perf_counter()
                if args.file_by_file:
                    outcomes = [pipeline.ingest(f.name, f.data) for f in ingested]
                else:
                    outcomes = list(pipeline.ingest_many(ingested))
                seconds = time.perf_counter() - started
        failed = [o for o in outcomes if o.status == "failed"]
        assert not failed, failed[:3]
        # The corpus repeats a few texts: a repeat is "unchanged" and embeds nothing.
        return seconds, sum(o.chunks for o in outcomes if o.status == "done")

    def time_calls() -> tuple[float, int]:
        """The product's model calls alone: the same texts, in slices of the runner's size."""
        started = time.perf_counter()
        for start in range(0, len(chunk_texts), EMBED_SLICE):
            embedder.embed_documents(chunk_texts[start : start + EMBED_SLICE])
        return time.perf_counter() - started, len(chunk_texts)

    def time_bare() -> tuple[float, int]:
        started = time.perf_counter()
        model.encode(chunk_texts, batch_size=batch_size, normalize_embeddings=True)
        return time.perf_counter() - started, len(chunk_texts)

    if args.read_ahead is not None:
        values: list[int | None] = [int(v) for v in args.read_ahead.split(",")]
    else:  # as wired; with both readers, the services' one thread for both
        values = [1] if len(readers) > 1 else [None]
    path = "file by file" if args.file_by_file else "ingest_many"
    timers: dict[str, Callable[[], tuple[float, int]]] = {}
    for reader in readers:
        for value in values:
            label = "as wired" if value is None else f"read-ahead {value}"
            timers[f"pipeline ({reader}, {path}, {label})"] = partial(time_pipeline, reader, value)
            if args.prefilled is not None:
                timers[f"pipeline ({reader}, {path}, {label}) into {args.prefilled}"] = partial(
                    time_pipeline, reader, value, args.prefilled
                )
    timers[CALLS] = time_calls
    timers["bare model"] = time_bare
    arms = {name: Arm(name) for name in timers}
    loads: list[float] = []
    for round_number in range(args.rounds):
        rounds_begun[0] = round_number + 1
        order = list(timers) if round_number % 2 == 0 else list(reversed(timers))
        for name in order:
            seconds, chunks = timers[name]()
            arms[name].rates.append(chunks / seconds)
            arms[name].chunks.append(chunks)
        loads.append(os.getloadavg()[0])
        print(f"round {round_number + 1}: order {' / '.join(order)}", flush=True)

    bare = arms["bare model"]
    print(
        f"\ncorpus: {args.corpus}, documents: {len(texts)} ({len(texts) - len(distinct)} "
        f"repeated), chunks: {len(chunk_texts)}, batch {batch_size}, {args.rounds} rounds, "
        f"load average after each round: {', '.join(f'{x:.1f}' for x in loads)}"
    )
    print("\n| arm | chunks/s per round | median | ratio to bare per round | median ratio |")
    print("|---|---|---|---|---|")
    for arm in arms.values():
        rates = ", ".join(f"{r:.1f}" for r in arm.rates)
        ratios = [r / b for r, b in zip(arm.rates, bare.rates, strict=True)]
        print(
            f"| {arm.name} | {rates} | {statistics.median(arm.rates):.1f} | "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f} |"
        )
        if arm.name not in ("bare model", CALLS) and set(arm.chunks) != {len(chunk_texts)}:
            print(
                f"  note: the pipeline embedded {arm.chunks} chunks, the bare model "
                f"{len(chunk_texts)}"
            )
    calls = arms[CALLS]
    pipelines = [arm for arm in arms.values() if arm not in (bare, calls)]
    for arm in pipelines:
        ratios = [a / b for a, b in zip(arm.rates, calls.rates, strict=True)]
        print(
            f"\n{arm.name} / {CALLS} (what the pipeline adds to its model calls): per round "
            f"{', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}"
        )
    for arm in pipelines[1:]:
        first = pipelines[0]
        ratios = [a / b for a, b in zip(arm.rates, first.rates, strict=True)]
        print(
            f"\n{arm.name} / {first.name}: per round {', '.join(f'{r:.2f}' for r in ratios)}, "
            f"median {statistics.median(ratios):.2f}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak_mb:.0f} MB")
    embedder.close()
    model_dir.cleanup()


if __name__ == "__main__":
    main()
