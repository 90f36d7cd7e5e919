"""The default engine: Qdrant Edge, Qdrant's Rust engine embedded in the process.

One shard folder per collection (``$SEMSEARCH_DATA_DIR/qdrant/<collection>``). The shard is
created lazily by ``ensure_collection``, because only then is the embedding dimension known;
until then the store reads as empty. Edge allows one open handle per shard folder, so a second
process (the CLI next to a running ``semsearch serve``) gets a ``StoreUnavailableError`` that
says so, instead of Edge's "Can't init WAL: Kind(WouldBlock)".

Facts about qdrant-edge-py 0.9.0 this module relies on (checked by the contract tests):

- Ids come back as ``uuid.UUID``; this store always returns ``str``.
- ``EdgeShard.retrieve`` needs ``with_vector`` passed although the stub marks it optional.
- ``MatchValue(True)`` is turned into the integer 1 and never matches a boolean payload value,
  so boolean filter values are refused with a clear error rather than silently matching nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from search import edge_graph
from search.edge_compaction import Compaction
from search.edge_shard import (
    COMPACTION,
    create_shard,
    ensure_indexes,
    holds_shard,
    locked_message,
    mismatch_message,
)
from search.edge_types import EDGE, edge_request, to_edge_point, to_record
from search.errors import SearchError, StoreUnavailableError
from search.points import compaction_of
from search.query_plan import Filter, PlannedStore, QueryPlan, wanted_vectors
from search.store import CollectionInfo, PointRecord, ScoredHit, StoredPoint, Where

WARM_UP_PAGE = 2048
log = logging.getLogger(__name__)

_T = TypeVar("_T")


class EdgeStore(PlannedStore):
    """``VectorStore`` on a Qdrant Edge shard. Every shard call holds one re-entrant lock: the
    web app calls the store from request handlers and from the ingestion thread at once.
    Writes also hold a second one, for their order and so that a compaction can copy the
    shard while searches go on (``search.edge_graph``)."""

    engine = "edge"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._writing = threading.RLock()
        self._deferring = threading.local()  # per thread: depth of deferred_flush blocks
        self._closed = False
        self._shard: qe.EdgeShard | None = None
        points = 0
        if holds_shard(path):
            edge_graph.recover(path)
            self._shard = self._open(lambda: qe.EdgeShard.load(str(path)))
            points = self._shard.count(qe.CountRequest(exact=True))
        self._compaction = Compaction(path, points=points)

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_collection(self, info: CollectionInfo) -> None:
        with self._lock:
            self._check_open()
            created = False
            if self._shard is None:
                if holds_shard(self._path):  # created by another process since we opened
                    self._shard = self._open(lambda: qe.EdgeShard.load(str(self._path)))
                else:
                    self._shard = self._open(lambda: create_shard(self._path, info.dimension))
                    created = True
            ensure_indexes(self._shard)
            self._record_collection(info, COMPACTION if created else None)

    def compact(self, *, threads: int = 1) -> bool:
        """Build the int8 copies and the HNSW graph of what was written since the last
        compaction, in a builder process over a copy of the shard, and take them in
        (``search.edge_graph``). Blocks the calling thread only: searches and writes go on
        meanwhile, save for the copy (writes wait) and the hand-over, when the whole process
        waits on Edge's close and load (0.26 s at 100,000 points and 1.71 s at 1,000,000 once
        the built files are read into the page cache first; 1.01 s and 3.14 s before;
        docs/benchmarks.md).
        ``threads``: the builder's indexing threads (0: every core; the server keeps one).
        True when something was rewritten. Shards made before compaction existed lack the
        mark in their collection point and are left alone."""
        if not self.start_compaction(threads=threads):
            return False
        self._compaction.wait()
        return bool(self.finish_compaction())

    def start_compaction(self, *, threads: int = 1) -> bool:
        """Copy the shard and start its builder; False when one runs already or there is
        nothing to compact."""
        with self._writing:
            with self._lock:
                self._check_open()
                record = self._collection_point() if self._shard else None
                if record is None or compaction_of(record) != COMPACTION:
                    return False
                if self._compaction.running:
                    return False
                info = self.collection_info()
                assert info is not None
                shard = self._require_shard()
                shard.flush()
                points = shard.count(qe.CountRequest(exact=True))
            # Writes wait while the shard is copied; searches go on.
            pid = self._compaction.begin(points=points, dimension=info.dimension, threads=threads)
        log.info("compaction started: building the search graph in process %d", pid)
        return True

    def finish_compaction(self) -> bool | None:
        """Take in a finished build: None while it runs (or when none was started), True when
        segments were taken in, False when there was nothing to take or it failed (logged)."""
        warmed_bytes, warmed_s = 0, 0.0
        if self._compaction.built():  # before the locks: searches and writes go on
            warmed_bytes, warmed_s = edge_graph.read_into_page_cache(
                edge_graph.build_folder(self._path)
            )
        held = None
        with self._writing, self._lock:
            ended = self._compaction.ended()
            if ended is None:
                return None
            if not self._closed and ended.built is not None and ended.built.rewritten:
                held = self._take_in(ended.journal, ended.copied_points)
        edge_graph.remove_retired(self._path)
        if ended.built is None:
            log.error("compaction failed (exit %s): %s", ended.returncode, ended.output[-2000:])
            return False
        if held is None:  # nothing was rewritten, or the store closed meanwhile
            return False
        log.info(
            "compaction done: graph built in %.1f s (builder peak %.2f GiB resident), %.0f MiB "
            "of it read into the page cache in %.2f s, taken in with %d writes made meanwhile in "
            "%.2f s (closing %.2f, loading %.2f, replaying and flushing %.2f)",
            ended.built.optimize_s,
            ended.built.peak_gib,
            warmed_bytes / 2**20,
            warmed_s,
            len(ended.journal),
            sum(held),
            *held,
        )
        return True

    def _take_in(
        self, journal: list[qe.UpdateOperation], copied_points: int
    ) -> tuple[float, float, float]:
        """Swap the built segments in and replay the journal (both locks held); the seconds
        spent closing, loading, and replaying and flushing."""
        started = time.perf_counter()
        shard = self._require_shard()
        shard.close()
        self._shard = None
        closed = time.perf_counter()
        edge_graph.adopt(self._path, edge_graph.build_folder(self._path))
        self._shard = self._open(lambda: qe.EdgeShard.load(str(self._path)))
        loaded = time.perf_counter()
        for operation in journal:
            self._shard.update(operation)
        self._shard.flush()
        edge_graph.retire_old(self._path)
        edge_graph.record_built(self._path, copied_points)
        return closed - started, loaded - closed, time.perf_counter() - loaded

    def keep_compacted(self, stop: threading.Event, *, poll_s: float = 1.0) -> None:
        """Compact whenever enough was written and writes have paused, until ``stop`` is set
        or the store closes; the server runs it in a thread."""
        while not stop.wait(poll_s) and not self._closed:
            try:
                if self._compaction.running:
                    self.finish_compaction()
                elif self._compaction.due():
                    self.start_compaction()
            except Exception:  # a full disk, a failed copy: logged, tried again later
                log.exception("compaction failed")
                stop.wait(60)

    def close(self) -> None:
        """Flush and release the shard (and its lock on the folder); a build in progress is
        stopped (its copy is removed at the next open). Safe to call twice."""
        self._compaction.stop()
        with self._writing, self._lock:
            if self._shard is not None:
                try:
                    self._shard.flush()
                finally:
                    self._shard.close()
                    self._shard = None
            self._closed = True

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        edge_points = [to_edge_point(p) for p in points]
        self._write(qe.UpdateOperation.upsert_points(edge_points), points=len(edge_points))

    def delete(self, where: Where) -> None:
        if not where:
            raise ValueError("delete needs a filter; refusing to delete every point")
        condition = EDGE.translate(Filter.of(where))
        with self._lock:
            self._check_open()
            if self._shard is None:
                return
        self._write(qe.UpdateOperation.delete_points_by_filter(condition))

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        if not where:
            raise ValueError("set_payload needs a filter")
        operation = qe.UpdateOperation.set_payload_by_filter(
            EDGE.translate(Filter.of(where)), dict(payload)
        )
        self._write(operation)

    def _write(self, operation: qe.UpdateOperation, *, points: int = 0) -> None:
        """Apply one write, and keep it for the build in progress, if one is."""
        with self._writing, self._lock:
            shard = self._require_shard()
            shard.update(operation)
            self._flush_unless_deferred(shard)
            self._compaction.note(operation, points)

    @contextmanager
    def deferred_flush(self) -> Iterator[None]:
        """This thread's writes inside the block are flushed once, when it ends (also on an
        error), instead of after every call: writes are durable when the block returns. Other
        threads' writes still flush as usual; the lock is not held across the block, so
        searches go on meanwhile."""
        depth = getattr(self._deferring, "depth", 0)
        self._deferring.depth = depth + 1
        try:
            yield
        finally:
            self._deferring.depth = depth
            if depth == 0:
                with self._lock:
                    if self._shard is not None and not self._closed:
                        self._shard.flush()

    def _flush_unless_deferred(self, shard: qe.EdgeShard) -> None:
        if not getattr(self._deferring, "depth", 0):
            shard.flush()

    # -- reads -------------------------------------------------------------------------------

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[PointRecord]:
        if not ids:
            return []
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            records = self._shard.retrieve(list(ids), True, wanted_vectors(with_vectors))
        return [to_record(r) for r in records]

    def scroll(
        self, where: Where | None = None, *, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[PointRecord]:
        """Pages of points; with vectors, each page's payloads come from a second call.

        Edge 0.9.0 reads payloads and vectors together about ten times slower than apart
        (1.65 s against 0.14 + 0.11 s for 20,000 points), so a page is scrolled without payloads
        and its payloads retrieved by id, under one lock hold.
        """
        condition = EDGE.translate_where(where)
        offset: qe.PointId | None = None
        while True:
            request = qe.ScrollRequest(
                offset=offset,
                limit=batch_size,
                filter=condition,
                with_payload=not with_vectors,
                with_vector=wanted_vectors(with_vectors),
            )
            with self._lock:
                self._check_open()
                if self._shard is None:
                    return
                records, offset = self._shard.scroll(request)
                payloads = self._payloads_of(records) if with_vectors else None
            for record in records:
                yield to_record(record, payloads)
            if offset is None:
                return

    def warm_up(self) -> int:
        """Read every payload once, so that searches do not pay for reading them cold.

        Edge 0.9.0 reads a payload slowly the first time a process touches it: fetching the 80
        hits of a search took 10-14 ms cold and 1.1-1.5 ms warm on 100,000 points, and one pass
        over them all took 3.1 s. The app runs this in a thread after it opens the store; each
        page holds the lock briefly, and a closed store ends it. Returns the points read."""
        read = 0
        offset: qe.PointId | None = None
        while True:
            request = qe.ScrollRequest(
                offset=offset, limit=WARM_UP_PAGE, with_payload=True, with_vector=False
            )
            with self._lock:
                if self._closed or self._shard is None:
                    return read
                records, offset = self._shard.scroll(request)
            read += len(records)
            if offset is None:
                return read

    def count(self, where: Where | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=EDGE.translate_where(where))
        with self._lock:
            self._check_open()
            if self._shard is None:
                return 0
            return self._shard.count(request)

    # -- internals ---------------------------------------------------------------------------

    def _search(self, plan: QueryPlan) -> list[ScoredHit]:
        """Run the plan without payloads, then fetch the hits' payloads by id.

        Edge 0.9.0 spends about 0.4 ms per hit reading payloads inside a filtered query (35 of
        47 ms for 80 hits out of 100,000 points) against 0.05 ms per point in ``retrieve``;
        both calls run under one lock hold, so no write falls between them.
        """
        request = edge_request(plan)
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            hits = self._shard.query(request)
            payloads = self._payloads_of(hits)
        return [
            ScoredHit(id=str(p.id), score=p.score, payload=dict(payloads.get(p.id) or {}))
            for p in hits
        ]

    def _ranked(self, plan: QueryPlan) -> list[tuple[str, float]]:
        request = edge_request(plan)
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            hits = self._shard.query(request)
        return [(str(p.id), p.score) for p in hits]

    def _reading(self) -> AbstractContextManager[Any]:
        """The shard's lock: no write falls between a fused query's legs and its payloads."""
        return self._lock

    def _payloads_of(self, points: Sequence[qe.Record | qe.ScoredPoint]) -> dict[Any, Any]:
        """The payloads of these points by Edge id (the caller holds the lock)."""
        shard = self._require_shard()
        ids = [p.id for p in points]
        return {r.id: r.payload for r in shard.retrieve(ids, True, False)} if ids else {}

    def _mismatch_message(self, stored: CollectionInfo, configured: CollectionInfo) -> str:
        return mismatch_message(self._path, stored, configured)

    def _open(self, opener: Callable[[], _T]) -> _T:
        """Run Edge's open or create, turning its lock error into one a user can act on."""
        try:
            return opener()
        except Exception as error:
            if "WouldBlock" in str(error):
                raise StoreUnavailableError(locked_message(self._path)) from error
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError(f"the store at {self._path} is closed")

    def _require_shard(self) -> qe.EdgeShard:
        self._check_open()
        if self._shard is None:
            raise SearchError(
                f"no collection at {self._path} yet: call ensure_collection before writing"
            )
        return self._shard
