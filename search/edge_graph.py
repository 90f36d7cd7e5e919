"""The HNSW graph of the embedded store, built in another process over a copy of the shard.

Qdrant Edge builds a graph only in ``optimize()``, which holds the GIL from start to end
(a thread ticking each millisecond got one tick in 4.35 s while it ran on 20,000 points), and
a shard folder opens in one process only. So ``EdgeStore`` builds it here, in steps:

1. ``copy_shard``: with writes held (searches go on), the shard is flushed and its
   ``segments/`` and ``edge_config.json`` copied beside it with ``cp -a``, which keeps the
   segments' preallocated files sparse (``shutil.copytree`` writes them out: 0.8-1.9 s against
   27-147 ms for 20,000 points). From then on the store keeps a journal of its writes.
2. ``python -m search.edge_graph COPY DIMENSION``: a fresh interpreter at a lower priority
   loads the copy with ``edge_shard.GRAPH``, optimizes it (int8 copies and the graph, on one
   thread) and closes it. It never writes a point, so the copy's point versions stay below the
   live shard's.
3. ``read_into_page_cache``: with nothing held, the built files are read once, because Edge
   drops a closed shard's files from the page cache and its load would read them from disk
   holding the GIL. ``adopt``: with reads and writes held, the live shard is closed, its
   ``segments/`` renamed to ``segments.old`` and the copy's renamed in, the copy's
   configuration put in place, the shard loaded again (its own WAL kept: its operation numbers
   go on), the journal replayed and flushed, and ``segments.old`` moved out of the shard before
   any other write (deleted later). Points written during the build are then in a plain
   segment, searched exactly until the next build. Replacing the WAL instead (as Edge's
   ``update_from_snapshot`` does) lost every write made during the build.
4. ``recover``, when a store opens: a ``segments.old`` left by a crash between the renames is
   put back (the old segments and the WAL are the whole state); a copy left over is removed.

Measured on 18,000-28,000 points (docs/scaling.md): the hand-over held the store 120-290 ms
for a journal of 900-9,000 writes, with counts, deletes, payload and vector changes exact; at
1,000,000 points it held the whole process 3.1 s (6-9 s with heap payload indexes), nearly
all of it Edge's load, which keeps the GIL (docs/benchmarks.md, "The search graph in the
store").
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import qdrant_edge as qe

from search.edge_shard import GRAPH, shard_config

log = logging.getLogger(__name__)

BUILD_SUFFIX = ".graph-build"
RETIRED_SUFFIX = ".graph-retired"
OLD_SEGMENTS = "segments.old"
OLD_CONFIG = "edge_config.json.old"
BUILT_NOTE = "graph-built.json"
BUILDER_LOG = "builder.log"


def read_into_page_cache(folder: Path) -> tuple[int, float]:
    """Read the built segments' files once, so that the hand-over's load finds them in the page
    cache; the bytes read and the seconds spent. Edge drops a shard's files from the page cache
    when it closes one (the builder's, here), and its load then reads them from disk holding
    the GIL: at 100,000 points it took 0.84-1.28 s that way and 0.08-0.12 s after this read, at
    1,000,000 1.08-2.08 s and 0.27-0.57 s (the read itself 1.7-11.0 s for 2.9 GiB). The read
    runs in the caller's thread without the store's locks (file reads release the GIL), so that
    searches go on meanwhile. The quantized vectors come first (Edge copies them whole onto the
    heap: 80% of that load), and reading stops at half the memory available."""
    started = time.perf_counter()
    budget = _available_bytes() // 2
    files = sorted(
        (f for f in (folder / "segments").rglob("*") if f.is_file()),
        key=lambda f: (not f.name.startswith("quantized"), f.as_posix()),
    )
    read = 0
    buffer = bytearray(4 << 20)
    for file in files:
        if read >= budget:
            break
        try:
            with open(file, "rb", buffering=0) as handle:
                while read < budget and (n := handle.readinto(buffer)):
                    read += n
        except OSError:  # a file gone or unreadable: the load will say so, not this
            continue
    return read, time.perf_counter() - started


def _available_bytes() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 30


def build_folder(path: Path) -> Path:
    """Where the copy is built: beside the shard, on the same filesystem, so renames are atomic."""
    return path.with_name(path.name + BUILD_SUFFIX)


def copy_shard(path: Path) -> Path:
    """Copy a flushed shard's segments and configuration (not its WAL) for a build."""
    target = build_folder(path)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(
        ["cp", "-a", str(path / "segments"), str(path / "edge_config.json"), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def start_builder(copy: Path, dimension: int, *, threads: int = 1) -> subprocess.Popen[bytes]:
    """The builder process, at a lower priority than the server; ``threads`` indexing threads
    (0: as many as cores). What it prints goes to a file in the copy (``builder_output``), not
    a pipe nobody reads while it runs."""
    with open(copy / BUILDER_LOG, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "search.edge_graph", str(copy), str(dimension), str(threads)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.nice(10),
        )


def builder_output(path: Path) -> str:
    """What the builder of the shard at ``path`` printed (its last 64 KiB)."""
    try:
        with open(build_folder(path) / BUILDER_LOG, "rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            log_file.seek(max(0, log_file.tell() - 65536))
            return log_file.read().decode("utf-8", "replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class Built:
    """What the builder reports on its last line."""

    rewritten: bool
    load_s: float
    optimize_s: float
    peak_gib: float  # the builder's peak resident memory (its own ru_maxrss)


def read_report(output: str) -> Built:
    last = output.strip().splitlines()[-1]
    report = json.loads(last)
    return Built(
        bool(report["rewritten"]),
        float(report["load_s"]),
        float(report["optimize_s"]),
        float(report["peak_gib"]),
    )


def adopt(path: Path, copy: Path) -> None:
    """Put the built segments in place of the closed shard's (the caller loads it again,
    replays its journal, flushes, then calls ``retire_old``)."""
    os.rename(path / "segments", path / OLD_SEGMENTS)
    shutil.copy2(path / "edge_config.json", path / OLD_CONFIG)
    os.rename(copy / "segments", path / "segments")
    os.replace(copy / "edge_config.json", path / "edge_config.json")
    _sync_folder(path)


def retire_old(path: Path) -> None:
    """Once the journal is replayed and flushed, before any other write: move the segments of
    before the hand-over out of the shard (a rename), so that a crash from here on keeps the
    new ones. ``remove_retired`` deletes them later, without holding the store."""
    trash = _retired_folder(path)
    shutil.rmtree(trash, ignore_errors=True)
    os.rename(path / OLD_SEGMENTS, trash)
    (path / OLD_CONFIG).unlink(missing_ok=True)
    _sync_folder(path)


def record_built(path: Path, points: int) -> None:
    """Note how many points the shard had when the segments just taken in were copied: a
    store that opens with another count has writes no graph covers yet."""
    partial = path / (BUILT_NOTE + ".partial")
    partial.write_text(json.dumps({"points": points}))
    os.replace(partial, path / BUILT_NOTE)


def points_built(path: Path) -> int | None:
    """The count ``record_built`` noted, or None (never built, or unreadable)."""
    try:
        return int(json.loads((path / BUILT_NOTE).read_text())["points"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_retired(path: Path) -> None:
    shutil.rmtree(_retired_folder(path), ignore_errors=True)
    shutil.rmtree(build_folder(path), ignore_errors=True)


def _retired_folder(path: Path) -> Path:
    return path.with_name(path.name + RETIRED_SUFFIX)


def recover(path: Path) -> bool:
    """Before a shard is loaded: undo a hand-over a crash cut short, drop a left-over copy.
    True when segments were put back."""
    remove_retired(path)
    old = path / OLD_SEGMENTS
    if not old.is_dir():
        (path / OLD_CONFIG).unlink(missing_ok=True)
        return False
    shutil.rmtree(path / "segments", ignore_errors=True)
    os.rename(old, path / "segments")
    if (path / OLD_CONFIG).exists():
        os.replace(path / OLD_CONFIG, path / "edge_config.json")
    _sync_folder(path)
    log.warning("%s: a graph hand-over was cut short; the segments before it were put back", path)
    return True


def _sync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def build(copy: Path, dimension: int, threads: int = 1) -> Built:
    """The builder's work: load the copy with the graph's configuration, optimize, close."""
    started = time.perf_counter()
    graph = qe.HnswIndexConfig(
        m=GRAPH.m,
        ef_construct=GRAPH.ef_construct,
        full_scan_threshold=GRAPH.full_scan_threshold,
        max_indexing_threads=threads,
    )
    shard = qe.EdgeShard.load(str(copy), shard_config(dimension, graph))
    loaded = time.perf_counter()
    rewritten = bool(shard.optimize())
    optimized = time.perf_counter()
    shard.flush()
    shard.close()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return Built(rewritten, loaded - started, optimized - loaded, peak_gib)


def main() -> None:
    copy, dimension, threads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    built = build(copy, dimension, threads)
    print(
        json.dumps(
            {
                "rewritten": built.rewritten,
                "load_s": built.load_s,
                "optimize_s": built.optimize_s,
                "peak_gib": built.peak_gib,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
