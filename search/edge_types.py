"""Translating the shared plans and values (``search.query_plan``) to Qdrant Edge's types and back.

Kept apart from ``search.edge_store`` (the engine's lifecycle, locking and calls) because these
are pure functions of values.
"""

from __future__ import annotations

from typing import Any

import qdrant_edge as qe

from search.query_plan import Dialect, Nearest, QueryPlan, point_record
from search.store import DENSE_VECTOR, PointRecord, StoredPoint


def _match(key: str, value: str | int | bool) -> qe.ConditionType:
    if isinstance(value, bool):
        raise ValueError(
            f"filter on {key!r}: Qdrant Edge 0.9.0 cannot match boolean values "
            "(MatchValue(True) becomes the integer 1); store the flag as a string or int"
        )
    return qe.FieldCondition(key=key, match=qe.MatchValue(value))


# Edge's own types for the shared filters and vectors; booleans are refused (``_match``).
EDGE: Dialect[qe.ConditionType, qe.Filter, qe.NamedVector] = Dialect(
    match=_match,
    match_any=lambda key, values: qe.FieldCondition(key=key, match=qe.MatchAny(values)),
    in_range=lambda key, gte, lt: qe.FieldCondition(
        key=key, range=qe.RangeDateTime(gte=gte, lt=lt)
    ),
    has_id=lambda point_id: qe.HasIdCondition({point_id}),
    filter=lambda must, must_not: qe.Filter(must=must, must_not=must_not),
    sparse_vector=qe.SparseVector,
)


# A dense query walks the HNSW graph with this beam and rescores the int8 candidates (twice
# as many as asked for) on the float16 vectors. On the bundled model's vectors of 9,747 chunks
# the graph found 0.949 of the exact top 10 at Edge's default beam, 0.970 at 256, and 0.985 at
# 256 with rescoring; the int8 scan (no graph yet) 0.975, and 0.998 rescored. On 48,569, with
# a graph of ef_construct 200, 0.990 at 256 and 0.993 at 512, a gain inside the noise of 300
# queries; but recall falls with the collection's size, and on 1,000,000 model-like vectors
# (harder than the model's) the store's graph found 0.752 at 256, 0.855 at 512 and 0.928 at
# 1,024, its dense query taking 2.95, 4.20 and 7.01 ms at p50. 512 buys that margin for about
# 1.3 ms a query; 1,024 would cost 4 ms of a 30 ms target (docs/benchmarks.md, "Recall of the
# dense branch").
DENSE_EF = 512
DENSE_PARAMS = qe.SearchParams(
    hnsw_ef=DENSE_EF,
    quantization=qe.QuantizationSearchParams(rescore=True, oversampling=2.0),
)


def edge_request(plan: QueryPlan) -> qe.QueryRequest:
    """An unfused plan as one request, without payloads (``EdgeStore`` fetches them apart);
    fused plans run leg by leg (``PlannedStore.query``)."""
    (leg,) = plan.legs
    return qe.QueryRequest(
        limit=plan.limit,
        offset=plan.offset,
        query=_nearest(leg),
        filter=EDGE.translate_optional(plan.filter),
        params=DENSE_PARAMS if leg.using == DENSE_VECTOR else None,
        with_payload=False,
    )


def _nearest(leg: Nearest) -> qe.Query:
    return qe.Query.Nearest(EDGE.vector(leg.vector), using=leg.using)


def to_edge_point(point: StoredPoint) -> qe.Point:
    return qe.Point(point.id, EDGE.vectors(point), point.payload)


def to_record(record: qe.Record, payloads: dict[Any, Any] | None = None) -> PointRecord:
    """A store record; ``payloads`` by Edge id when they were fetched apart from the vectors.

    Edge builds the vector's Python list on each access of ``record.vector``, so it is read once.
    """
    payload = record.payload if payloads is None else payloads.get(record.id)
    return point_record(record.id, payload, record.vector)
