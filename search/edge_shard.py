"""Creating Qdrant Edge shards and naming the ways opening one fails.

Apart from ``search.edge_store`` (the store's lifecycle, locking and queries): the shard's
configuration and payload indexes are decided here, once, for new and older shards alike.
"""

from __future__ import annotations

from pathlib import Path

import qdrant_edge as qe

from search.query_plan import payload_indexes
from search.store import DENSE_VECTOR, SPARSE_VECTOR, CollectionInfo


def holds_shard(path: Path) -> bool:
    """True when ``path`` already holds shard data (an empty folder counts as no shard)."""
    return path.is_dir() and any(path.iterdir())


# What ``EdgeStore.compact`` builds: Edge's optimizer rewrites the appendable segment into an
# immutable one holding int8 copies of the dense vectors beside the float16 ones, and no HNSW
# graph (m = 0: building one held the process for 634 s at 100,000 points). At 100,000 points
# the rewrite took 6.4-8.7 s, and a filtered dense query 5.8-6.4 ms against 13.8-17.6 exact
# (docs/benchmarks.md, "Search latency"). The 1 KB threshold makes every compaction take all
# that was written since the last one.
COMPACTION = "int8, no graph"
_INT8 = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
_NO_GRAPH = qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000_000)
_COMPACT_ALL = qe.EdgeOptimizersConfig(indexing_threshold=1)


def create_shard(path: Path, dimension: int) -> qe.EdgeShard:
    config = qe.EdgeConfig(
        vectors={
            DENSE_VECTOR: qe.EdgeVectorParams(
                size=dimension,
                distance=qe.Distance.Cosine,
                # Half the bytes to read: Edge scans every dense vector (it builds no HNSW index
                # unless asked to optimize, which blocks the process for minutes at 100,000
                # points), and the scan of 100,000 took 13.3 ms at p50 in float16 against 17.5
                # in float32, with the same top 10 on 100 queries. Shards made before keep
                # float32.
                datatype=qe.VectorStorageDatatype.Float16,
            )
        },
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        quantization_config=_INT8,
        hnsw_config=_NO_GRAPH,
        optimizers=_COMPACT_ALL,
    )
    shard = qe.EdgeShard.create(str(path), config)
    ensure_indexes(shard)
    return shard


def ensure_indexes(shard: qe.EdgeShard) -> None:
    """Create the payload indexes the shard lacks: all of them on a new shard, and on a shard
    made by an older version the fields added since (``tags``, ``filename``, ``mime``...)."""
    existing = set(shard.info().payload_schema)
    wanted = payload_indexes(qe.PayloadSchemaType.Keyword, qe.PayloadSchemaType.Datetime)
    missing = [(field, schema) for field, schema in wanted if field not in existing]
    for field, schema in missing:
        shard.update(qe.UpdateOperation.create_field_index(field, schema))
    if missing:
        shard.flush()


def locked_message(path: Path) -> str:
    return (
        f"another semsearch process (for example a running `semsearch serve`) has the data "
        f"folder {path} open, and Qdrant Edge allows only one process per folder. Stop that "
        f"process, or use the running server's API instead, or point this command at another "
        f"SEMSEARCH_DATA_DIR."
    )


def mismatch_message(path: Path, stored: CollectionInfo, configured: CollectionInfo) -> str:
    return (
        f"the collection at {path} was filled by embedding model {stored.model!r} "
        f"(dimension {stored.dimension}), but semsearch is configured with {configured.model!r} "
        f"(dimension {configured.dimension}); vectors of two models cannot be searched together. "
        f"Switch back to {stored.model!r}, or use another SEMSEARCH_COLLECTION or "
        f"SEMSEARCH_DATA_DIR for the new model, or delete {path} and re-ingest your documents."
    )
