"""Creating Qdrant Edge shards and naming the ways opening one fails.

Apart from ``search.edge_store`` (the store's lifecycle, locking and queries): the shard's
configuration and payload indexes are decided here, once, for new and older shards alike.
"""

from __future__ import annotations

from pathlib import Path

import qdrant_edge as qe

from search.points import KIND
from search.query_plan import payload_indexes
from search.store import DENSE_VECTOR, SPARSE_VECTOR, CollectionInfo


def holds_shard(path: Path) -> bool:
    """True when ``path`` already holds shard data (an empty folder counts as no shard)."""
    return path.is_dir() and any(path.iterdir())


# What a compaction builds (``search.edge_graph``): Edge's optimizer rewrites the segments
# into immutable ones holding int8 copies of the dense vectors beside the float16 ones and an
# HNSW graph over them. The graph is built in a separate process, over a copy of the shard
# (the optimizer holds the GIL throughout); at 100,000 points it took 21.9 s and a dense query
# 0.29 ms against 2.23 ms for a scan of the int8 copies (docs/benchmarks.md, "HNSW build in
# Qdrant Edge"). One indexing thread: the server keeps the other core. The 10 KB full-scan
# threshold sends a filter that keeps fewer points than that to a scan of its payload index.
# Shards are created without a graph (m = 0): a shard's own optimizer must never run in the
# server, and the graph comes with the first compaction.
# ef_construct 200, not Qdrant's 100: on the bundled model's vectors of 48,569 corpus windows
# the dense branch found 0.983 of the exact top 10 with a graph of 100 and 0.990 with 200 (at
# a beam of 256), for 1.2 times the build there and 1.3-1.6 times at 1,000,000 points. m 32,
# not 16: on 1,000,000 model-like vectors (harder than the model's) the graph of 16 found 0.597
# of the exact top 10 at a beam of 256 and the graph of 32 0.752, at 2.95 ms a dense query;
# with it the in-process API's hybrid p50 was 17.0 ms, `semsearch serve` held 2.99 GiB, and the
# build on one thread took 1,288 s (docs/benchmarks.md, "Recall of the dense branch", "The
# search graph in the store").
COMPACTION = "int8, no graph"
_INT8 = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
_NO_GRAPH = qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000_000)
GRAPH = qe.HnswIndexConfig(m=32, ef_construct=200, full_scan_threshold=10, max_indexing_threads=1)
_COMPACT_ALL = qe.EdgeOptimizersConfig(indexing_threshold=1)


def shard_config(dimension: int, hnsw: qe.HnswIndexConfig = _NO_GRAPH) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={
            DENSE_VECTOR: qe.EdgeVectorParams(
                size=dimension,
                distance=qe.Distance.Cosine,
                # Half the bytes to read: the scan of 100,000 took 13.3 ms at p50 in float16
                # against 17.5 in float32, with the same top 10 on 100 queries. Shards made
                # before keep float32.
                datatype=qe.VectorStorageDatatype.Float16,
            )
        },
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        quantization_config=_INT8,
        hnsw_config=hnsw,
        optimizers=_COMPACT_ALL,
    )


def create_shard(path: Path, dimension: int) -> qe.EdgeShard:
    shard = qe.EdgeShard.create(str(path), shard_config(dimension))
    ensure_indexes(shard)
    return shard


# Payload indexes stay in their memory-mapped files (``on_disk``) instead of being copied onto
# the heap each time a shard opens, save ``kind``, which every search filters on (chunks only).
# Edge's load of a built shard spent most of its time making those copies (doc_id, filename,
# mime and ingested_at above all), and that load holds the GIL: the whole server waits through
# it at every graph hand-over: at 1,000,000 points the hand-over held the server 3.1 s with
# these, 6.2-9.2 s with heap indexes. With ``kind`` mapped too, the first dense query after a
# load took 49-61 ms instead of 3-7 (docs/benchmarks.md, "The search graph in the store").
# Shards made by an earlier version keep their heap indexes: re-creating them on the builder's
# copy did not take (presumably because the copy's operations number below the shard's), and
# the server must not rebuild them in its own process.
_ON_HEAP = frozenset({KIND})
_IndexSchema = qe.PayloadSchemaType | qe.KeywordIndexParams | qe.DatetimeIndexParams


def _wanted_indexes() -> list[tuple[str, _IndexSchema]]:
    keyword: _IndexSchema = qe.KeywordIndexParams(on_disk=True)
    datetime: _IndexSchema = qe.DatetimeIndexParams(on_disk=True)
    mapped = payload_indexes(keyword, datetime)
    return [
        (field, qe.PayloadSchemaType.Keyword if field in _ON_HEAP else params)
        for field, params in mapped
    ]


def ensure_indexes(shard: qe.EdgeShard) -> None:
    """Create the payload indexes the shard lacks: all of them on a new shard, and on a shard
    made by an older version the fields added since (``tags``, ``filename``, ``mime``...)."""
    existing = set(shard.info().payload_schema)
    missing = [(field, params) for field, params in _wanted_indexes() if field not in existing]
    for field, params in missing:
        shard.update(qe.UpdateOperation.create_field_index(field, params))
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
