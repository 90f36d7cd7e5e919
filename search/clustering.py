"""Documents (or their passages) grouped into labelled clusters, and placed on a 2-D map.

Ward then k-means over the document points (the normalised, length-weighted mean of each
document's chunk vectors, joined with the words of its text: ``search.cluster_space``), or at
``level="chunk"`` over the chunk points, for collections of a few long documents; k is chosen by
silhouette unless the user gives one (``search.cluster_fit``, which also keeps 100,000 points
fast); labels are each cluster's most distinctive terms by class-based TF-IDF
(``search.cluster_labels``); the map is a PCA projection. ``search.cluster_cache`` keeps the
results until the collection changes, and the scrolled points (``scroll_points``) too, so that
the fit for another k does not read every vector again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from search.cluster_fit import SEED, TextsOf, assign, project
from search.cluster_labels import cluster_terms, document_texts, label_members
from search.cluster_space import TEXT_PER_DOCUMENT
from search.points import CHUNKS_ONLY, DOCUMENTS_ONLY, doc_id_of, read_point
from search.points import text_of as stored_text
from search.results import Cluster, ClusterDocument, ClusterResponse, MapPoint
from search.store import PointRecord, VectorStore

Level = Literal["document", "chunk"]
LEVELS: tuple[Level, ...] = ("document", "chunk")
DOCUMENTS_PER_CLUSTER = 3
SNIPPET_CHARS = 200
SCROLL_BATCH = 1024


@dataclass(frozen=True)
class ScrolledPoints:
    """The points one level clusters, as scrolled: ``records`` hold their payloads (their
    ``dense`` lists are dropped, a list of 384 Python floats takes about 12 KB against 1.5 KB
    as a row of ``vectors``), ``vectors`` their dense vectors, one row each, read-only so that
    fits running at once may share them."""

    level: Level
    records: list[PointRecord]
    vectors: np.ndarray

    @cached_property
    def coords(self) -> np.ndarray:
        """The map's 2-D coordinates: the PCA of the vectors does not depend on k, so a sweep
        over k projects once (on 5,000 documents, 0.4 to 0.8 s of the 2 to 3 s a k took)."""
        coords = project(self.vectors)
        coords.setflags(write=False)
        return coords


def scroll_points(store: VectorStore, level: Level = "document") -> ScrolledPoints:
    """Every document point (or chunk point) that has a dense vector, with it."""
    where = CHUNKS_ONLY if level == "chunk" else DOCUMENTS_ONLY
    records: list[PointRecord] = []
    rows: list[list[float]] = []
    for record in store.scroll(where, with_vectors=True, batch_size=SCROLL_BATCH):
        if record.dense:
            rows.append(record.dense)
            records.append(PointRecord(id=record.id, payload=record.payload))
    vectors = np.asarray(rows, dtype=np.float32)
    vectors.setflags(write=False)
    return ScrolledPoints(level=level, records=records, vectors=vectors)


def cluster_documents(
    store: VectorStore,
    k: int | None = None,
    *,
    level: Level = "document",
    seed: int = SEED,
    timings: dict[str, float] | None = None,
    scrolled: ScrolledPoints | None = None,
) -> ClusterResponse:
    """Cluster every done document (or every chunk); ``k=None`` chooses k by silhouette.

    ``seed`` draws the sample a large collection is fitted on. ``timings``, when given,
    receives each phase's wall and CPU seconds (for the benchmark). ``scrolled``: this level's
    points already scrolled (``scroll_points``, kept by ``search.cluster_cache`` for the
    collection's revision); without them they are scrolled here.
    """
    phase = _Phases(timings)
    with phase("scroll"):
        if scrolled is None or scrolled.level != level:
            scrolled = scroll_points(store, level)
        records, vectors = scrolled.records, scrolled.vectors
    if not records:
        return ClusterResponse(
            level=level, k=0, k_chosen_by="too few documents", clusters=[], points=[]
        )
    fetched: dict[str, str] = {}  # document texts read for the fit, reused by the labels
    with phase("fit"):
        assignment = assign(vectors, k, _fit_texts(store, records, level, fetched), seed=seed)
    labels = assignment.labels
    with phase("labels"):
        for_labels = label_members(labels)
        text_of = _text_source(store, records, labels, for_labels, level, fetched)
        terms = cluster_terms(for_labels, text_of)
    with phase("pca"):
        coords = scrolled.coords
    with phase("response"):
        clusters = []
        for cluster_id in range(assignment.k):
            members = np.flatnonzero(labels == cluster_id)
            if len(members) == 0:
                continue
            centre = vectors[members].mean(axis=0)
            central = members[np.argsort(-(vectors[members] @ centre))][:DOCUMENTS_PER_CLUSTER]
            found = terms.get(cluster_id, [])
            clusters.append(
                Cluster(
                    id=cluster_id,
                    label=", ".join(found[:3]) or f"cluster {cluster_id + 1}",
                    terms=found,
                    size=len(members),
                    documents=[_central_item(records[i], level) for i in central],
                )
            )
        clusters.sort(key=lambda c: -c.size)
        points = [
            _map_point(r, x, y, int(c), level)
            for r, (x, y), c in zip(records, coords, labels, strict=True)
        ]
    return ClusterResponse(
        level=level,
        k=assignment.k,
        k_chosen_by=assignment.chosen_by,
        k_scores=assignment.scores,
        clusters=clusters,
        points=points,
    )


def _fit_texts(
    store: VectorStore, records: list[PointRecord], level: Level, fetched: dict[str, str]
) -> TextsOf:
    """``texts_of(rows)`` for the fit: each chunk's text, or each document's chunks joined
    (read for the fitted rows only, and kept in ``fetched``)."""
    if level == "chunk":
        return lambda rows: [stored_text(records[i].payload) for i in rows]

    def texts_of(rows: np.ndarray) -> list[str]:
        ids = [doc_id_of(records[i].payload) for i in rows]
        fetched.update(document_texts(store, ids, TEXT_PER_DOCUMENT))
        return [fetched.get(doc_id, "") for doc_id in ids]

    return texts_of


def _text_source(
    store: VectorStore,
    records: list[PointRecord],
    labels: np.ndarray,
    members: dict[int, np.ndarray],
    level: Level,
    fetched: dict[str, str],
) -> Callable[[int, int], str]:
    """``text_of(index, budget)`` for the label: the chunk's own text, or the document's
    chunks (already read for the fit, or fetched once per cluster for the members that go
    into its label)."""
    if level == "chunk":
        return lambda i, budget: stored_text(records[i].payload)[:budget]
    done: set[int] = set()

    def text_of(i: int, budget: int) -> str:
        doc_id = doc_id_of(records[i].payload)
        cluster_id = int(labels[i])
        if doc_id not in fetched and cluster_id not in done:
            done.add(cluster_id)
            ids = [doc_id_of(records[j].payload) for j in members[cluster_id]]
            missing = [d for d in ids if d not in fetched]
            fetched.update(document_texts(store, missing, budget))
        return fetched.get(doc_id, "")[:budget]

    return text_of


def _central_item(record: PointRecord, level: Level) -> ClusterDocument:
    p = read_point(record.payload)
    item = ClusterDocument(doc_id=p.doc_id, filename=p.filename, title=p.title)
    if level == "chunk":
        item.page = p.page
        item.chunk_index = p.chunk_index
        item.snippet = " ".join(p.text.split())[:SNIPPET_CHARS]
    return item


def _map_point(record: PointRecord, x: float, y: float, cluster: int, level: Level) -> MapPoint:
    # model_construct: the fields are built right here; validating 100,000 of them cost seconds.
    if level == "chunk":
        p = read_point(record.payload)
        return MapPoint.model_construct(
            doc_id=p.doc_id,
            x=float(x),
            y=float(y),
            cluster=cluster,
            page=p.page,
            chunk_index=p.chunk_index,
        )
    return MapPoint.model_construct(
        doc_id=doc_id_of(record.payload), x=float(x), y=float(y), cluster=cluster
    )


class _Phases:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self._timings = timings

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if self._timings is not None:
                self._timings[name] = time.perf_counter() - start
                self._timings[f"{name} CPU"] = time.process_time() - cpu
