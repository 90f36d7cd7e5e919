"""What both engines decide alike, as plain values that each engine translates into its calls.

Qdrant Edge (``search.edge_store``) and qdrant-client (``search.client_store``) are two APIs over
one query language. Which vectors a search looks up, whether it fuses them, how many candidates
each prefetch takes, which points a filter keeps and what is stored under which vector name are
decided here, once: a ``QueryPlan`` made of ``Nearest`` legs and a ``Filter`` of ``Match``,
``MatchAny``, ``InRange`` and ``HasId`` conditions. An engine maps each of these types to its own
and makes the call, so the two differ only in the calls they make, and a change to what a search
means is one change, which the contract tests then check on both.

``PlannedStore`` is the part of the ``VectorStore`` contract written in these terms: ``query``,
``recommend`` and the collection point (see ``search.points``), on top of an engine's
``retrieve``, ``upsert``, ``_search`` and ``_ranked``. A hybrid plan runs each of its legs as a
query of its own and fuses them here (``search.fusion``), the same way for both engines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from search.errors import ModelMismatchError
from search.fusion import fuse
from search.points import (
    COLLECTION_POINT_ID,
    DATETIME_INDEXES,
    KEYWORD_INDEXES,
    collection_info_of,
    collection_point,
)
from search.store import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    CollectionInfo,
    DateRange,
    PointRecord,
    ScoredHit,
    SearchMode,
    SparseVector,
    StoredPoint,
    Where,
    WhereValue,
)

# Prefetches fetch at least this many candidates, so that fused pages stay consistent while
# paging (the prefetch limit also grows with limit + offset, as Qdrant requires).
PREFETCH_FLOOR = 100

_T = TypeVar("_T")
_C = TypeVar("_C")  # an engine's filter condition
_F = TypeVar("_F")  # an engine's filter
_V = TypeVar("_V")  # an engine's sparse vector

# -- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """The field equals ``value``; a list field matches when one of its elements does."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    """The field equals one of ``values`` (Qdrant's MatchAny)."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class InRange:
    """``gte <= field < lt`` on a datetime field, compared as instants; one end may be open."""

    key: str
    gte: str | None
    lt: str | None


@dataclass(frozen=True)
class HasId:
    """The point is this one (``recommend`` leaves its own point out with it)."""

    point_id: str


Condition = Match | MatchAny | InRange | HasId


@dataclass(frozen=True)
class Filter:
    """Points matching every ``must`` condition and none of ``must_not``."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    @classmethod
    def of(cls, where: Where) -> Filter:
        """One condition per entry of ``where`` (see ``search.store.Where``); dotted keys are
        nested paths. Both engines build their filters from it, so they refuse the same inputs.
        """
        return cls(must=tuple(_condition(key, value) for key, value in where.items()))


def where_filter(where: Where | None) -> Filter | None:
    """The filter of an optional ``where``; None (every point) when it has no entry."""
    return Filter.of(where) if where else None


def _condition(key: str, value: WhereValue) -> Condition:
    if isinstance(value, DateRange):
        return InRange(key, value.gte, value.lt)
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(
                f"filter on {key!r}: an empty any-of list matches nothing; leave it out"
            )
        return MatchAny(key, tuple(str(v) for v in value))
    return Match(key, value)


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nearest:
    """The points nearest to ``vector`` among the points' vectors named ``using``."""

    using: str
    vector: list[float] | SparseVector


@dataclass(frozen=True)
class QueryPlan:
    """One query. Unfused, it is the nearest points to its one leg; fused, every leg is queried
    on its own (``prefetch_limit`` candidates each, under the same filter) and the candidates
    are fused by ``search.fusion`` (``PlannedStore.query``)."""

    legs: tuple[Nearest, ...]
    fused: bool
    limit: int
    offset: int = 0
    filter: Filter | None = None

    @property
    def prefetch_limit(self) -> int:
        return max(self.limit + self.offset, PREFETCH_FLOOR)

    def leg_plans(self) -> list[QueryPlan]:
        """A fused plan's legs, each as an unfused plan of ``prefetch_limit`` candidates."""
        return [QueryPlan((leg,), False, self.prefetch_limit, 0, self.filter) for leg in self.legs]


def plan_query(
    *,
    mode: SearchMode,
    dense: list[float] | None,
    sparse: SparseVector | None,
    limit: int,
    offset: int = 0,
    where: Where | None = None,
) -> QueryPlan | None:
    """The plan of ``VectorStore.query``, or None when nothing can match.

    Raises ``ValueError`` for an unknown mode, or when the mode's vectors are missing.
    """
    condition = where_filter(where)
    legs: list[Nearest] = []
    if mode == "dense":
        legs.append(Nearest(DENSE_VECTOR, _need(dense, mode, "dense")))
    elif mode == "keyword":
        keywords = _need(sparse, mode, "sparse")
        if not keywords.indices:  # only stopwords: nothing can match
            return None
        legs.append(Nearest(SPARSE_VECTOR, keywords))
    elif mode == "hybrid":
        legs.append(Nearest(DENSE_VECTOR, _need(dense, mode, "dense")))
        keywords = _need(sparse, mode, "sparse")
        if keywords.indices:  # only stopwords: the dense candidates alone are fused
            legs.append(Nearest(SPARSE_VECTOR, keywords))
    else:
        raise ValueError(f"unknown search mode {mode!r}")
    return QueryPlan(tuple(legs), mode == "hybrid", limit, offset, condition)


def plan_recommend(
    point_id: str, dense: list[float], *, limit: int, where: Where | None = None
) -> QueryPlan:
    """The points nearest to a stored point's dense vector, less the point itself."""
    must = Filter.of(where).must if where else ()
    condition = Filter(must=must, must_not=(HasId(point_id),))
    return QueryPlan((Nearest(DENSE_VECTOR, dense),), fused=False, limit=limit, filter=condition)


def _need(value: _T | None, mode: str, what: str) -> _T:
    if value is None:
        raise ValueError(f"a {mode} query needs a {what} vector")
    return value


# -- points ------------------------------------------------------------------------------------


def wanted_vectors(with_vectors: bool) -> list[str] | Literal[False]:
    """The vectors a read asks for: the dense one (the only one a ``PointRecord`` holds) or none."""
    return [DENSE_VECTOR] if with_vectors else False


def point_record(
    point_id: object, payload: Mapping[str, Any] | None, vectors: object
) -> PointRecord:
    """A store record from an engine's id, payload and named vectors (a dict, or None when
    vectors were not asked for).

    The dense vector is taken as the engine built it, already a list of floats, and not copied:
    copying it cost about 6 s CPU at 100,000 points on Qdrant Edge."""
    dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
    # A plain dense vector, never a multivector here.
    vector = cast(list[float], dense) if isinstance(dense, list) else None
    return PointRecord(id=str(point_id), payload=dict(payload or {}), dense=vector)


def payload_indexes(keyword: _T, datetime: _T) -> list[tuple[str, _T]]:
    """Every payload index (``search.points``), with the engine's schema type for each."""
    return [(f, keyword) for f in KEYWORD_INDEXES] + [(f, datetime) for f in DATETIME_INDEXES]


# -- engines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect(Generic[_C, _F, _V]):
    """An engine's constructors for the values filters and points are made of.

    The walks over a ``Filter`` and over a point's vectors are this class's methods, written
    once; an engine gives only its own types, so the two cannot translate a filter differently.
    """

    match: Callable[[str, str | int | bool], _C]
    match_any: Callable[[str, list[str]], _C]
    in_range: Callable[[str, str | None, str | None], _C]
    has_id: Callable[[str], _C]
    filter: Callable[[list[_C] | None, list[_C] | None], _F]  # (must, must_not)
    sparse_vector: Callable[[list[int], list[float]], _V]

    def translate(self, condition: Filter) -> _F:
        return self.filter(self._conditions(condition.must), self._conditions(condition.must_not))

    def translate_optional(self, condition: Filter | None) -> _F | None:
        return self.translate(condition) if condition is not None else None

    def translate_where(self, where: Where | None) -> _F | None:
        """The engine's filter of a store call's ``where``; None (every point) when empty."""
        return self.translate_optional(where_filter(where))

    def vector(self, vector: list[float] | SparseVector) -> list[float] | _V:
        if isinstance(vector, SparseVector):
            return self.sparse_vector(list(vector.indices), list(vector.values))
        return vector

    def vectors(self, point: StoredPoint) -> dict[str, list[float] | _V]:
        """The vectors a point is stored with, by name (none for a metadata point)."""
        vectors: dict[str, list[float] | _V] = {}
        if point.dense is not None:
            vectors[DENSE_VECTOR] = list(point.dense)
        if point.sparse is not None:
            vectors[SPARSE_VECTOR] = self.vector(point.sparse)
        return vectors

    def _conditions(self, conditions: Sequence[Condition]) -> list[_C] | None:
        return [self._condition(c) for c in conditions] or None

    def _condition(self, condition: Condition) -> _C:
        if isinstance(condition, Match):
            return self.match(condition.key, condition.value)
        if isinstance(condition, MatchAny):
            return self.match_any(condition.key, list(condition.values))
        if isinstance(condition, InRange):
            return self.in_range(condition.key, condition.gte, condition.lt)
        return self.has_id(condition.point_id)


# -- the store ---------------------------------------------------------------------------------


class PlannedStore(ABC):
    """What both engines' ``VectorStore`` do alike, in terms of the engine's own calls."""

    @abstractmethod
    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[PointRecord]: ...

    @abstractmethod
    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    @abstractmethod
    def _search(self, plan: QueryPlan) -> list[ScoredHit]:
        """Run an unfused plan, with the hits' payloads."""

    @abstractmethod
    def _ranked(self, plan: QueryPlan) -> list[tuple[str, float]]:
        """Run an unfused plan: the hits' ids and scores, no payloads."""

    def _reading(self) -> AbstractContextManager[Any]:
        """Held across the calls of one fused query (an engine with a lock returns it)."""
        return nullcontext()

    @abstractmethod
    def _mismatch_message(self, stored: CollectionInfo, configured: CollectionInfo) -> str:
        """What to tell a user whose collection was filled by another model: where it is, and
        what to do."""

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
        plan = plan_query(
            mode=mode, dense=dense, sparse=sparse, limit=limit, offset=offset, where=where
        )
        if plan is None:
            return []
        return self._fused(plan) if plan.fused else self._search(plan)

    def _fused(self, plan: QueryPlan) -> list[ScoredHit]:
        """Each leg's candidates, fused (``search.fusion``); payloads for the page only."""
        with self._reading():
            ranked = [self._ranked(leg) for leg in plan.leg_plans()]
            dense, keyword = ranked[0], ranked[1] if len(ranked) > 1 else []
            page = fuse(dense, keyword)[plan.offset : plan.offset + plan.limit]
            payloads = {r.id: r.payload for r in self.retrieve([point for point, _ in page])}
        return [
            ScoredHit(id=point, score=score, payload=dict(payloads[point]))
            for point, score in page
            if point in payloads
        ]

    def recommend(
        self, point_id: str, *, limit: int, where: Where | None = None
    ) -> list[ScoredHit]:
        """Nearest to the point's stored dense vector; [] when the point is missing or has none.

        Done as retrieve + nearest (not a recommend query) so both engines score it the same way.
        """
        records = self.retrieve([point_id], with_vectors=True)
        if not records or records[0].dense is None:
            return []
        return self._search(plan_recommend(point_id, records[0].dense, limit=limit, where=where))

    def collection_info(self) -> CollectionInfo | None:
        record = self._collection_point()
        return collection_info_of(record) if record is not None else None

    def _collection_point(self) -> PointRecord | None:
        records = self.retrieve([COLLECTION_POINT_ID])
        return records[0] if records else None

    def _record_collection(self, info: CollectionInfo, compaction: str | None = None) -> None:
        """Write the collection point of a collection that has none, or check that the one
        there records the same model and dimension (``ModelMismatchError`` if not)."""
        stored = self.collection_info()
        if stored is None:
            self.upsert([collection_point(info, compaction)])
        elif stored != info:
            raise ModelMismatchError(self._mismatch_message(stored, info))
