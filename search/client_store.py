"""The server engine: qdrant-client talking to a Qdrant server or cluster (``QDRANT_URL``).

``QDRANT_URL=:memory:`` selects qdrant-client's local mode instead. It is a pure-Python stand-in
for a server, used in CI: it receives exactly the calls a server would, so the same contract
tests cover this module without a running Qdrant. It is not thread-safe, so in that mode every
call holds a lock; a real server handles concurrent requests itself and gets no lock.

Hybrid search is fused by Qdrant with ``models.RrfQuery(rrf=models.Rrf(k=61))``; the older
``models.FusionQuery(fusion=models.Fusion.RRF)`` has no ``k`` and uses Qdrant's default of 2.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from search.errors import ModelMismatchError, SearchError, StoreUnavailableError
from search.store import (
    COLLECTION_POINT_ID,
    DATETIME_FIELDS,
    DENSE_VECTOR,
    INDEXED_FIELDS,
    RRF_K,
    SPARSE_VECTOR,
    CollectionInfo,
    DateRange,
    PointRecord,
    ScoredHit,
    SearchMode,
    SparseVector,
    StoredPoint,
    Where,
    any_of,
)

MEMORY_URL = ":memory:"
# Prefetches fetch at least this many candidates, so that fused pages stay consistent while
# paging (the prefetch limit also grows with limit + offset, as Qdrant requires).
PREFETCH_FLOOR = 100
_INDEXES = [(f, models.PayloadSchemaType.KEYWORD) for f in INDEXED_FIELDS] + [
    (f, models.PayloadSchemaType.DATETIME) for f in DATETIME_FIELDS
]


class ClientStore:
    """``VectorStore`` on one collection of a Qdrant server, through qdrant-client."""

    engine = "server"

    def __init__(
        self, url: str, api_key: str | None, collection: str, *, check_compatibility: bool = True
    ) -> None:
        """``check_compatibility``: qdrant-client's client/server version check, which runs in a
        background thread and only warns (tests against an unreachable URL turn it off)."""
        self._url = url
        self._collection = collection
        self._local = url == MEMORY_URL
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._local else contextlib.nullcontext()
        )
        self._exists = False  # cached once seen: collections are never dropped under us
        self._closed = False
        if self._local:
            self._client = QdrantClient(location=MEMORY_URL)
        else:
            self._client = QdrantClient(
                url=url, api_key=api_key or None, check_compatibility=check_compatibility
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_collection(self, info: CollectionInfo) -> None:
        with self._call():
            if not self._collection_exists():
                self._create(info.dimension)
            else:
                self._ensure_indexes()
            stored = self.collection_info()
            if stored is None:
                self._write_info(info)
            elif stored != info:
                raise ModelMismatchError(self._mismatch_message(stored, info))

    def collection_info(self) -> CollectionInfo | None:
        records = self.retrieve([COLLECTION_POINT_ID])
        if not records:
            return None
        payload = records[0].payload
        return CollectionInfo(model=str(payload["model"]), dimension=int(payload["dimension"]))

    def close(self) -> None:
        """Close the client's connections. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        structs = [_to_struct(p) for p in points]
        with self._call():
            if not self._collection_exists():
                raise SearchError(
                    f"no collection {self._collection!r} yet: call ensure_collection before writing"
                )
            self._client.upsert(self._collection, points=structs, wait=True)

    def delete(self, where: Where) -> None:
        if not where:
            raise ValueError("delete needs a filter; refusing to delete every point")
        selector = models.FilterSelector(filter=_filter(where))
        with self._call():
            if self._collection_exists():
                self._client.delete(self._collection, points_selector=selector, wait=True)

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        if not where:
            raise ValueError("set_payload needs a filter")
        selector = models.FilterSelector(filter=_filter(where))
        with self._call():
            if self._collection_exists():
                self._client.set_payload(
                    self._collection, payload=dict(payload), points=selector, wait=True
                )

    # -- reads -------------------------------------------------------------------------------

    def query(
        self,
        *,
        mode: SearchMode,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        offset: int = 0,
        where: Where | None = None,
    ) -> list[ScoredHit]:
        condition = _filter(where) if where else None
        prefetch_limit = max(limit + offset, PREFETCH_FLOOR)
        arguments: dict[str, Any]
        if mode == "dense":
            arguments = {"query": _need(dense, mode, "dense"), "using": DENSE_VECTOR}
        elif mode == "keyword":
            keywords = _need(sparse, mode, "sparse")
            if not keywords.indices:  # only stopwords: nothing can match
                return []
            arguments = {"query": _client_sparse(keywords), "using": SPARSE_VECTOR}
        elif mode == "hybrid":
            prefetch = [
                models.Prefetch(
                    query=_need(dense, mode, "dense"),
                    using=DENSE_VECTOR,
                    limit=prefetch_limit,
                    filter=condition,
                )
            ]
            keywords = _need(sparse, mode, "sparse")
            if keywords.indices:
                prefetch.append(
                    models.Prefetch(
                        query=_client_sparse(keywords),
                        using=SPARSE_VECTOR,
                        limit=prefetch_limit,
                        filter=condition,
                    )
                )
            arguments = {"prefetch": prefetch, "query": models.RrfQuery(rrf=models.Rrf(k=RRF_K))}
        else:
            raise ValueError(f"unknown search mode {mode!r}")
        return self._query(condition=condition, limit=limit, offset=offset, **arguments)

    def recommend(
        self, point_id: str, *, limit: int, where: Where | None = None
    ) -> list[ScoredHit]:
        """Nearest to the point's stored dense vector; [] when the point is missing or has none.

        Done as retrieve + nearest (not a recommend query) so both engines score it the same way.
        """
        records = self.retrieve([point_id], with_vectors=True)
        if not records or records[0].dense is None:
            return []
        must: list[models.Condition] = list(_conditions(where)) if where else []
        condition = models.Filter(
            must=must or None, must_not=[models.HasIdCondition(has_id=[point_id])]
        )
        return self._query(
            condition=condition, limit=limit, offset=0, query=records[0].dense, using=DENSE_VECTOR
        )

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[PointRecord]:
        if not ids:
            return []
        with self._call():
            if not self._collection_exists():
                return []
            records = self._client.retrieve(
                self._collection,
                ids=list(ids),
                with_payload=True,
                with_vectors=_with_vectors(with_vectors),
            )
        return [_record(r) for r in records]

    def scroll(
        self, where: Where | None = None, *, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[PointRecord]:
        condition = _filter(where) if where else None
        offset: models.ExtendedPointId | None = None
        while True:
            with self._call():
                if not self._collection_exists():
                    return
                records, offset = self._client.scroll(
                    self._collection,
                    scroll_filter=condition,
                    limit=batch_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=_with_vectors(with_vectors),
                )
            for record in records:
                yield _record(record)
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        condition = _filter(where) if where else None
        with self._call():
            if not self._collection_exists():
                return 0
            return self._client.count(self._collection, count_filter=condition, exact=True).count

    # -- internals ---------------------------------------------------------------------------

    def _query(
        self, *, condition: models.Filter | None, limit: int, offset: int, **arguments: Any
    ) -> list[ScoredHit]:
        with self._call():
            if not self._collection_exists():
                return []
            response = self._client.query_points(
                self._collection,
                query_filter=condition,
                limit=limit,
                offset=offset,
                with_payload=True,
                **arguments,
            )
        return [
            ScoredHit(id=str(p.id), score=p.score, payload=dict(p.payload or {}))
            for p in response.points
        ]

    def _collection_exists(self) -> bool:
        if not self._exists:
            self._exists = self._client.collection_exists(self._collection)
        return self._exists

    def _create(self, dimension: int) -> None:
        try:
            self._client.create_collection(
                self._collection,
                vectors_config={
                    DENSE_VECTOR: models.VectorParams(
                        size=dimension, distance=models.Distance.COSINE
                    )
                },
                sparse_vectors_config={
                    SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
        except UnexpectedResponse as error:
            if error.status_code != 409:  # 409: another replica created it first
                raise
        self._create_indexes(_INDEXES)
        self._exists = True

    def _ensure_indexes(self) -> None:
        """Index the fields a collection made by an older version lacks (``tags``,
        ``filename``, ``mime``...): filters work without them, only slower on a large one."""
        existing = set(self._client.get_collection(self._collection).payload_schema or {})
        self._create_indexes([(f, kind) for f, kind in _INDEXES if f not in existing])

    def _create_indexes(self, fields: Sequence[tuple[str, models.PayloadSchemaType]]) -> None:
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there; a server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field, kind in fields:
                self._client.create_payload_index(self._collection, field, kind, wait=True)

    def _write_info(self, info: CollectionInfo) -> None:
        payload = {"kind": "collection", "model": info.model, "dimension": info.dimension}
        self.upsert([StoredPoint(id=COLLECTION_POINT_ID, payload=payload)])

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        """Hold the lock (local mode) and turn transport errors into ones a user can act on."""
        with self._lock:
            if self._closed:
                raise StoreUnavailableError(f"the store for QDRANT_URL={self._url} is closed")
            try:
                yield
            except (ResponseHandlingException, httpx.TransportError) as error:
                raise StoreUnavailableError(
                    f"cannot reach the Qdrant server at QDRANT_URL={self._url} ({error}). "
                    "Check that it is running and reachable, or unset QDRANT_URL to use the "
                    "embedded store."
                ) from error
            except UnexpectedResponse as error:
                if error.status_code in (401, 403):
                    raise StoreUnavailableError(
                        f"the Qdrant server at QDRANT_URL={self._url} refused the request "
                        f"({error.status_code}): check QDRANT_API_KEY"
                    ) from error
                raise SearchError(f"the Qdrant server at {self._url} answered: {error}") from error

    def _mismatch_message(self, stored: CollectionInfo, configured: CollectionInfo) -> str:
        return (
            f"the collection {self._collection!r} on QDRANT_URL={self._url} was filled by "
            f"embedding model {stored.model!r} (dimension {stored.dimension}), but semsearch is "
            f"configured with {configured.model!r} (dimension {configured.dimension}); vectors of "
            f"two models cannot be searched together. Switch back to {stored.model!r}, or use "
            f"another SEMSEARCH_COLLECTION for the new model, or delete the collection "
            f"{self._collection!r} on the server and re-ingest your documents."
        )


def _need(value: Any, mode: str, what: str) -> Any:
    if value is None:
        raise ValueError(f"a {mode} query needs a {what} vector")
    return value


def _conditions(where: Where) -> Iterator[models.FieldCondition]:
    """One condition per entry (see ``search.store.Where``); dotted keys are nested paths."""
    for key, value in where.items():
        if isinstance(value, DateRange):
            yield models.FieldCondition(key=key, range=_datetime_range(value))
            continue
        values = any_of(key, value)
        if values is not None:
            yield models.FieldCondition(key=key, match=models.MatchAny(any=values))
        else:
            assert isinstance(value, str | int | bool)
            yield models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _datetime_range(value: DateRange) -> models.DatetimeRange:
    # The model parses the ISO strings into datetimes (it is typed with datetime fields).
    return models.DatetimeRange.model_validate({"gte": value.gte, "lt": value.lt})


def _filter(where: Where) -> models.Filter:
    return models.Filter(must=list(_conditions(where)))


def _client_sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _to_struct(point: StoredPoint) -> models.PointStruct:
    vectors: dict[str, Any] = {}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    if point.sparse is not None:
        vectors[SPARSE_VECTOR] = _client_sparse(point.sparse)
    return models.PointStruct(id=point.id, vector=vectors, payload=point.payload)


def _with_vectors(with_vectors: bool) -> bool | list[str]:
    return [DENSE_VECTOR] if with_vectors else False


def _record(record: models.Record) -> PointRecord:
    dense: list[float] | None = None
    if isinstance(record.vector, dict):
        value = record.vector.get(DENSE_VECTOR)
        if isinstance(value, list):
            dense = [float(x) for x in value if isinstance(x, float | int)]
    return PointRecord(id=str(record.id), payload=dict(record.payload or {}), dense=dense)
