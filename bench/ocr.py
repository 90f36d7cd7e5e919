"""OCR quality and speed: both engines on the same scanned pages, then the scan ingested next
to its original.

``tracemonkey-scan.pdf`` is the first six pages of ``tracemonkey-pldi09.pdf`` rendered as an
image-only scan (150 DPI JPEG). For each engine (RapidOCR, and Tesseract where its program is
installed), each page is rendered and read as ingestion does (``ingest.page_images``,
``ingest.ocr.engine_for``) in a fresh process of its own, one thread, and compared with the
original page's text layer (pypdf):

- word recall: both texts NFKC-normalised (the layer's "ﬁ" ligatures become "fi"), lower-cased
  and split into runs of letters and digits; the share of the layer's words (as a multiset)
  that OCR found;
- in sequence: the share of the layer's words found in the same order (difflib's matching
  blocks), which falls to about half when two columns come out interleaved;
- characters of OCR text per CPU second and pages per minute of wall time, with the render;
- the process's peak resident memory.

Then pages 2 and 5 of the scan (its most text, and a figure), and a 2,000 x 2,000 page dense
with small print (the largest RapidOCR reads unscaled), read through the isolated reader
(``ingest.isolation``) under each ``--memory-limits`` (``SEMSEARCH_READ_MEMORY_MB``): what
the default has to allow for.

Then the end-to-end ingest (``IngestPipeline.ingest_many`` through the services' isolated
reader, embedding with the bundled model) of the scan and of the original, side by side in the
same run, each into a fresh data folder, alternating for ``--rounds`` rounds.

It never fails on time or quality: it prints figures.

    .venv/bin/python bench/ocr.py [--engines rapidocr,tesseract] [--rounds 1]
        [--memory-limits 1536,2048,3072] [--no-ingest]
"""

from __future__ import annotations

import argparse
import difflib
import multiprocessing
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PDFS = ROOT.parent / "shared" / "eval" / "pdfs"
SCAN = PDFS / "tracemonkey-scan.pdf"
ORIGINAL = PDFS / "tracemonkey-pldi09.pdf"
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def recall(truth: list[str], found: list[str]) -> float:
    wanted, got = Counter(truth), Counter(found)
    return sum(min(count, got[word]) for word, count in wanted.items()) / max(1, len(truth))


def in_sequence(truth: list[str], found: list[str]) -> float:
    matcher = difflib.SequenceMatcher(a=truth, b=found, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / max(1, len(truth))


def truth_pages(pages: int) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(ORIGINAL)
    return [reader.pages[index].extract_text() for index in range(pages)]


def read_scan(engine_name: str) -> dict[str, Any]:
    """In a fresh process: every page of the scan read by this engine, timed."""
    sys.path.insert(0, str(ROOT))
    import pypdfium2 as pdfium

    from ingest.ocr import OcrSettings, engine_for
    from ingest.page_images import render_pdf_page

    started = time.perf_counter()
    engine = engine_for(OcrSettings(engine=engine_name))  # type: ignore[arg-type]
    load_s = time.perf_counter() - started
    document = pdfium.PdfDocument(str(SCAN))
    pages: list[dict[str, Any]] = []
    for index in range(len(document)):
        page = document[index]
        wall, cpu = time.perf_counter(), time.process_time()
        image = render_pdf_page(page, engine.dpi)
        text = engine.read(image)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        pages.append(
            {
                "text": text,
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.process_time() - cpu,
                "pixels": image.size,
                "children_cpu_s": children.ru_utime + children.ru_stime,
            }
        )
        page.close()
    document.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"pages": pages, "load_s": load_s, "peak_mb": max(peak, child_peak) / 1024}


def engine_report(name: str, result: dict[str, Any], truths: list[str]) -> None:
    pages = result["pages"]
    # Tesseract runs as a child process: its CPU time is the children's, counted as it grows.
    child_cpu = [p["children_cpu_s"] for p in pages]
    child_steps = [b - a for a, b in zip([0.0, *child_cpu], child_cpu, strict=False)]
    print(
        f"\n{name}: engine loaded in {result['load_s']:.2f} s, peak RSS {result['peak_mb']:.0f} MB"
    )
    print("page  pixels       recall  in-seq  wall s  cpu s  chars/cpu-s")
    all_truth: list[str] = []
    all_found: list[str] = []
    for number, (page, truth, child) in enumerate(zip(pages, truths, child_steps, strict=True), 1):
        cpu = page["cpu_s"] + child
        truth_words, found = words(truth), words(page["text"])
        all_truth += truth_words
        all_found += found
        print(
            f"{number:>4}  {page['pixels'][0]:>5}x{page['pixels'][1]:<5}"
            f"  {recall(truth_words, found):.3f}   {in_sequence(truth_words, found):.3f}"
            f"  {page['wall_s']:6.2f}  {cpu:5.2f}  {len(page['text']) / max(cpu, 1e-9):8.0f}"
        )
    wall = sum(p["wall_s"] for p in pages)
    cpu = sum(p["cpu_s"] for p in pages) + sum(child_steps)
    chars = sum(len(p["text"]) for p in pages)
    worst = min(recall(words(t), words(p["text"])) for p, t in zip(pages, truths, strict=True))
    print(
        f" all  recall {recall(all_truth, all_found):.3f} (worst page {worst:.3f}),"
        f" in sequence {in_sequence(all_truth, all_found):.3f},"
        f" {60 * len(pages) / wall:.1f} pages/min, {chars / cpu:.0f} chars/cpu-s"
    )


def memory_limits(limits: list[int]) -> None:
    sys.path.insert(0, str(ROOT))
    import io

    from pypdf import PdfReader, PdfWriter

    from ingest.errors import DocumentParseError
    from ingest.isolation import IsolatedReader
    from tests.scans import image_bytes, page_image

    reader = PdfReader(SCAN)
    writer = PdfWriter()
    for index in (1, 4):
        writer.add_page(reader.pages[index])
    buffer = io.BytesIO()
    writer.write(buffer)
    dense = page_image([f"word{i} " * 12 for i in range(70)], size=(2000, 2000), font_px=20)
    files = {"scan pages 2, 5": ("pages.pdf", buffer.getvalue())}
    files["dense 2000x2000"] = ("dense.png", image_bytes(dense, "PNG"))
    print("\nread through the isolated reader (RapidOCR), by memory limit:")
    for label, (name, data) in files.items():
        for limit in limits:
            isolated = IsolatedReader(memory_mb=limit, timeout_s=300)
            started = time.perf_counter()
            try:
                document = isolated.load(name, data)
                outcome = f"read, {len(document.text):,} characters"
            except DocumentParseError as error:
                outcome = f"failed: {error.reason}"
            finally:
                isolated.close()
            seconds = time.perf_counter() - started
            print(f"  {label:<16} {limit:>5} MB: {outcome} ({seconds:.1f} s)")


def ingest_times(rounds: int) -> None:
    sys.path.insert(0, str(ROOT))
    from embeddings.factory import build_provider
    from ingest.models import SourceFile
    from web.services import open_services
    from web.settings import Settings

    with tempfile.TemporaryDirectory() as model_dir:
        embedder = build_provider(Settings(SEMSEARCH_DATA_DIR=model_dir).embeddings())
        embedder.embed_documents(["warm up the model"])
        times: dict[str, list[float]] = {SCAN.name: [], ORIGINAL.name: []}
        chunks: dict[str, int] = {}
        for round_number in range(rounds):
            order = [SCAN, ORIGINAL] if round_number % 2 == 0 else [ORIGINAL, SCAN]
            for path in order:
                with (
                    tempfile.TemporaryDirectory() as tmp,
                    open_services(Settings(SEMSEARCH_DATA_DIR=tmp), embedder=embedder) as s,
                ):
                    s.pipeline.ingest("warmup.txt", b"start the reader process before timing")
                    started = time.perf_counter()
                    (outcome,) = s.pipeline.ingest_many([SourceFile(path.name, path.read_bytes())])
                    times[path.name].append(time.perf_counter() - started)
                    assert outcome.status == "done", outcome
                    chunks[path.name] = outcome.chunks
    print(f"\nend-to-end ingest (isolated reader, bundled model), median of {rounds} round(s):")
    for name, seconds in times.items():
        print(f"  {name:<26} {statistics.median(seconds):6.1f} s  {chunks[name]} chunks")
    ratio = statistics.median(times[SCAN.name]) / statistics.median(times[ORIGINAL.name])
    print(f"  scan / original: {ratio:.1f}x (the scan is 6 pages, the original 14)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--memory-limits", default="1536,2048,3072")
    parser.add_argument("--no-ingest", action="store_true")
    args = parser.parse_args()
    if not SCAN.exists():
        sys.exit(f"{SCAN} is missing: this benchmark reads ../shared/eval/pdfs")
    truths = truth_pages(6)
    context = multiprocessing.get_context("spawn")
    for name in [name for name in args.engines.split(",") if name]:
        if name == "tesseract" and shutil.which("tesseract") is None:
            print(f"\n{name}: skipped, the tesseract program is not installed")
            continue
        with context.Pool(1) as pool:
            result = pool.apply(read_scan, (name,))
        engine_report(name, result, truths)
    if args.memory_limits:
        memory_limits([int(limit) for limit in args.memory_limits.split(",")])
    if not args.no_ingest:
        ingest_times(args.rounds)


if __name__ == "__main__":
    main()
