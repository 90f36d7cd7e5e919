"""The server engine: qdrant-client talking to a Qdrant server or cluster (``QDRANT_URL``).

``QDRANT_URL=:memory:`` selects qdrant-client's local mode instead. It is a pure-Python stand-in
for a server, used in CI: it receives exactly the calls a server would, so the same contract
tests cover this module without a running Qdrant. It is not thread-safe, so in that mode every
call holds a lock; a real server handles concurrent requests itself and gets no lock.

Hybrid search runs its two halves as two queries and fuses them in Python
(``search.fusion``, ``PlannedStore.query``), exactly as the embedded engine does.
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

from search.errors import SearchError, StoreUnavailableError
from search.query_plan import (
    Dialect,
    Filter,
    Nearest,
    PlannedStore,
    QueryPlan,
    payload_indexes,
    point_record,
    wanted_vectors,
)
from search.server_replication import Replication
from search.store import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    CollectionInfo,
    PointRecord,
    ScoredHit,
    StoredPoint,
    Where,
)

MEMORY_URL = ":memory:"
_INDEXES = payload_indexes(models.PayloadSchemaType.KEYWORD, models.PayloadSchemaType.DATETIME)
# qdrant-client's own types for the shared filters and vectors.
_CLIENT: Dialect[models.Condition, models.Filter, models.SparseVector] = Dialect(
    match=lambda key, value: models.FieldCondition(key=key, match=models.MatchValue(value=value)),
    match_any=lambda key, values: models.FieldCondition(key=key, match=models.MatchAny(any=values)),
    # The model parses the ISO strings into datetimes (it is typed with datetime fields).
    in_range=lambda key, gte, lt: models.FieldCondition(
        key=key, range=models.DatetimeRange.model_validate({"gte": gte, "lt": lt})
    ),
    has_id=lambda point_id: models.HasIdCondition(has_id=[point_id]),
    filter=lambda must, must_not: models.Filter(must=must, must_not=must_not),
    sparse_vector=lambda indices, values: models.SparseVector(indices=indices, values=values),
)


class ClientStore(PlannedStore):
    """``VectorStore`` on one collection of a Qdrant server, through qdrant-client."""

    engine = "server"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        collection: str,
        *,
        replication: Replication | None = None,
        check_compatibility: bool = True,
    ) -> None:
        """``replication``: the collection's sharding and replication when this store creates
        it, and the consistency of every read and write (``search.server_replication``).
        ``check_compatibility``: qdrant-client's client/server version check, which runs in a
        background thread and only warns (tests against an unreachable URL turn it off)."""
        self._url = url
        self._collection = collection
        self._replication = replication or Replication()
        self._ordering = models.WriteOrdering(self._replication.write_ordering)
        self._consistency = _read_consistency(self._replication.read_consistency)
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
            self._record_collection(info)

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
        structs = [_struct(p) for p in points]
        with self._call():
            if not self._collection_exists():
                raise SearchError(
                    f"no collection {self._collection!r} yet: call ensure_collection before writing"
                )
            self._client.upsert(
                self._collection, points=structs, wait=True, ordering=self._ordering
            )

    def delete(self, where: Where) -> None:
        if not where:
            raise ValueError("delete needs a filter; refusing to delete every point")
        selector = models.FilterSelector(filter=_CLIENT.translate(Filter.of(where)))
        with self._call():
            if self._collection_exists():
                self._client.delete(
                    self._collection, points_selector=selector, wait=True, ordering=self._ordering
                )

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        if not where:
            raise ValueError("set_payload needs a filter")
        selector = models.FilterSelector(filter=_CLIENT.translate(Filter.of(where)))
        with self._call():
            if self._collection_exists():
                self._client.set_payload(
                    self._collection,
                    payload=dict(payload),
                    points=selector,
                    wait=True,
                    ordering=self._ordering,
                )

    # -- reads -------------------------------------------------------------------------------

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
                with_vectors=wanted_vectors(with_vectors),
                consistency=self._consistency,
            )
        return [point_record(r.id, r.payload, r.vector) for r in records]

    def scroll(
        self, where: Where | None = None, *, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[PointRecord]:
        condition = _CLIENT.translate_where(where)
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
                    with_vectors=wanted_vectors(with_vectors),
                    consistency=self._consistency,
                )
            for record in records:
                yield point_record(record.id, record.payload, record.vector)
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        condition = _CLIENT.translate_where(where)
        with self._call():
            if not self._collection_exists():
                return 0
            return self._client.count(self._collection, count_filter=condition, exact=True).count

    # -- internals ---------------------------------------------------------------------------

    def _search(self, plan: QueryPlan) -> list[ScoredHit]:
        return [
            ScoredHit(id=str(p.id), score=p.score, payload=dict(p.payload or {}))
            for p in self._points(plan, with_payload=True)
        ]

    def _ranked(self, plan: QueryPlan) -> list[tuple[str, float]]:
        return [(str(p.id), p.score) for p in self._points(plan, with_payload=False)]

    def _points(self, plan: QueryPlan, *, with_payload: bool) -> list[models.ScoredPoint]:
        (leg,) = plan.legs
        with self._call():
            if not self._collection_exists():
                return []
            response = self._client.query_points(
                self._collection,
                query_filter=_CLIENT.translate_optional(plan.filter),
                limit=plan.limit,
                offset=plan.offset,
                with_payload=with_payload,
                consistency=self._consistency,
                **_nearest(leg),
            )
        return list(response.points)

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
                **self._replication.collection_arguments(),
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
        self._create_indexes([(f, schema) for f, schema in _INDEXES if f not in existing])

    def _create_indexes(self, fields: Sequence[tuple[str, models.PayloadSchemaType]]) -> None:
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there; a server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field, schema in fields:
                self._client.create_payload_index(
                    self._collection, field, schema, wait=True, ordering=self._ordering
                )

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


def _read_consistency(setting: str) -> models.ReadConsistency:
    """``"2"`` is a number of replicas; the words are Qdrant's named levels."""
    return int(setting) if setting.isdigit() else models.ReadConsistencyType(setting)


def _nearest(leg: Nearest) -> dict[str, Any]:
    """The ``query`` and ``using`` arguments of a query or prefetch."""
    return {"query": _CLIENT.vector(leg.vector), "using": leg.using}


def _struct(point: StoredPoint) -> models.PointStruct:
    return models.PointStruct(id=point.id, vector=_CLIENT.vectors(point), payload=point.payload)
