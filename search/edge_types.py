"""Translating the store contract's values to Qdrant Edge's types and back.

Kept apart from ``search.edge_store`` (the engine's lifecycle, locking and queries) because
these are pure functions of values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import qdrant_edge as qe

from search.store import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    DateRange,
    PointRecord,
    SparseVector,
    StoredPoint,
    Where,
    any_of,
)


def edge_conditions(where: Where) -> Iterator[qe.FieldCondition]:
    """One condition per entry (see ``search.store.Where``); dotted keys are nested paths."""
    for key, value in where.items():
        if isinstance(value, DateRange):
            yield qe.FieldCondition(key=key, range=qe.RangeDateTime(gte=value.gte, lt=value.lt))
            continue
        values = any_of(key, value)
        if values is not None:
            yield qe.FieldCondition(key=key, match=qe.MatchAny(values))
            continue
        if isinstance(value, bool):
            raise ValueError(
                f"filter on {key!r}: Qdrant Edge 0.9.0 cannot match boolean values "
                "(MatchValue(True) becomes the integer 1); store the flag as a string or int"
            )
        assert isinstance(value, str | int)
        yield qe.FieldCondition(key=key, match=qe.MatchValue(value))


def edge_filter(where: Where) -> qe.Filter:
    return qe.Filter(must=list(edge_conditions(where)))


def edge_sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=list(vector.indices), values=list(vector.values))


def to_edge_point(point: StoredPoint) -> qe.Point:
    vectors: dict[str, qe.NamedVector] = {}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    if point.sparse is not None:
        vectors[SPARSE_VECTOR] = edge_sparse(point.sparse)
    return qe.Point(point.id, vectors, point.payload)


def with_vector(with_vectors: bool) -> qe.WithVectorType:
    return [DENSE_VECTOR] if with_vectors else False


def to_record(record: qe.Record, payloads: dict[Any, Any] | None = None) -> PointRecord:
    """A store record; ``payloads`` by Edge id when they were fetched apart from the vectors."""
    payload = record.payload if payloads is None else payloads.get(record.id)
    return PointRecord(id=str(record.id), payload=dict(payload or {}), dense=_dense_of(record))


def _dense_of(record: qe.Record) -> list[float] | None:
    """The ``dense`` vector of a record, or None (vectorless points, or vectors not asked for).

    Edge builds the vector's Python list on each access of ``record.vector``, already of
    floats: it is read once and not copied (copying cost about 6 s CPU at 100,000 points)."""
    vector = record.vector
    if isinstance(vector, dict):
        dense = vector.get(DENSE_VECTOR)
        if isinstance(dense, list):
            return cast(list[float], dense)  # a plain dense vector, never a multivector here
    return None
