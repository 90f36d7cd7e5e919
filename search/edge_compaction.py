"""What an ``EdgeStore`` knows of its compactions: how much was written since the last one,
and the build in progress (its builder process, and the journal of the writes made since its
copy, replayed on the built segments). The store holds the locks and the shard and calls this
under them; ``search.edge_graph`` does the copying, building and renaming.
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import qdrant_edge as qe

from search import edge_graph

# A compaction starts once this many points were written since the last one, or a twentieth of
# the points it covered if more, and writes have paused for COMPACT_AFTER_IDLE_S (and once at
# start): fewer are scanned exactly, quickly. A build over 1,000,000 points took 18.7 minutes
# on one thread and its hand-over held the store 3.1 s (docs/benchmarks.md), so a large store
# is not rebuilt for every few uploads.
COMPACT_AFTER_POINTS = 1_000
COMPACT_SHARE = 20
COMPACT_AFTER_IDLE_S = 5.0
# The writes made while a graph is built are kept to be replayed on the built segments; past
# this many points the build is given up (and started again later) rather than the journal
# growing with an ingestion that goes on.
MAX_JOURNAL_POINTS = 200_000
# A build that failed is tried again after this long.
RETRY_FAILED_S = 300.0

log = logging.getLogger("search.edge_store")


@dataclass(frozen=True)
class Ended:
    """A build whose builder has exited: what it built (None: it failed), and the writes to
    replay on it."""

    built: edge_graph.Built | None
    journal: list[qe.UpdateOperation]
    copied_points: int
    output: str
    returncode: int


class Compaction:
    def __init__(self, path: Path, *, points: int) -> None:
        """``points``: the shard's as it opened. Another count than the last build covered
        (``edge_graph.points_built``) means an earlier process wrote what no graph covers: it
        is compacted at start."""
        self._path = path
        self._covered = edge_graph.points_built(path) or 0
        self._written = 0  # points upserted since the last compaction started
        self._last_write = 0.0
        self._unbuilt = points != self._covered  # the shard opened with writes no graph covers
        self._not_before = 0.0  # after a failed build, the next waits
        self._copied_points = 0
        self._builder: subprocess.Popen[bytes] | None = None
        self._journal: list[qe.UpdateOperation] | None = None
        self._journal_points = 0

    @property
    def running(self) -> bool:
        return self._builder is not None

    def note(self, operation: qe.UpdateOperation, points: int) -> None:
        """A write was applied (``points``: those upserted); kept for the build in progress."""
        self._written += points
        self._last_write = time.monotonic()
        if self._journal is None:
            return
        self._journal.append(operation)
        self._journal_points += max(points, 1)
        if self._journal_points > MAX_JOURNAL_POINTS:
            log.warning("compaction given up: %d points written while it ran", self._journal_points)
            self._written += self._journal_points
            self.stop()
            edge_graph.remove_retired(self._path)

    def due(self) -> bool:
        """Writes have paused, and enough were made, or the shard opened with writes no graph
        covers (an earlier process's: what it wrote is taken in at start, however little)."""
        now = time.monotonic()
        if now - self._last_write < COMPACT_AFTER_IDLE_S or now < self._not_before:
            return False
        enough = max(COMPACT_AFTER_POINTS, self._covered // COMPACT_SHARE)
        return self._unbuilt or self._written >= enough

    def begin(self, *, points: int, dimension: int, threads: int) -> int:
        """Copy the flushed shard (``points`` in it) and start the builder; its process id.
        The caller holds writes until this returns."""
        copy = edge_graph.copy_shard(self._path)
        self._journal, self._journal_points, self._written = [], 0, 0
        self._unbuilt = False
        self._copied_points = self._covered = points
        self._builder = edge_graph.start_builder(copy, dimension, threads=threads)
        return self._builder.pid

    def built(self) -> bool:
        """The builder of the build in progress has exited well (``ended`` is still to come)."""
        return self._builder is not None and self._builder.poll() == 0

    def wait(self) -> None:
        if self._builder is not None:
            self._builder.wait()

    def ended(self) -> Ended | None:
        """The build, once its builder has exited (None while it runs, or when none does); the
        compaction is then over, whatever the caller does with it."""
        builder = self._builder
        if builder is None or builder.poll() is None:
            return None
        output = edge_graph.builder_output(self._path)
        journal = self._journal or []
        self._builder, self._journal = None, None
        built = None
        if builder.returncode == 0:
            try:
                built = edge_graph.read_report(output)
            except (ValueError, KeyError, IndexError):
                built = None
        if built is None:  # tried again later, not at once: a full disk would fail again
            self._unbuilt = True
            self._not_before = time.monotonic() + RETRY_FAILED_S
        return Ended(built, journal, self._copied_points, output, builder.returncode)

    def stop(self) -> None:
        """Stop the build in progress, if any; its copy is left for the next build or the next
        open to remove (``edge_graph.recover``)."""
        builder, self._builder, self._journal = self._builder, None, None
        if builder is not None and builder.poll() is None:
            builder.kill()
            builder.wait()
