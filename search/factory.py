"""Picks the engine: a Qdrant server when ``QDRANT_URL`` is set, else embedded Qdrant Edge."""

from __future__ import annotations

from pathlib import Path

from search.server_replication import Replication
from search.store import VectorStore


def edge_shard_folder(data_dir: Path, collection: str) -> Path:
    """Where Edge keeps a collection's shard: ``<data_dir>/qdrant/<collection>``."""
    return data_dir / "qdrant" / collection


def open_store(
    *,
    data_dir: Path,
    qdrant_url: str | None,
    qdrant_api_key: str | None,
    collection: str,
    replication: Replication | None = None,
) -> VectorStore:
    """Open the one store of this process; the caller closes it.

    Edge keeps each collection in its own shard folder (``edge_shard_folder``). Raises
    ``StoreUnavailableError`` when another process holds that folder. ``replication`` is the
    server's only (``search.server_replication``).
    """
    # Imported here: qdrant-client takes ~1.7 s to import, which the embedded default never needs.
    if qdrant_url:
        from search.client_store import ClientStore

        return ClientStore(qdrant_url, qdrant_api_key, collection, replication=replication)
    from search.edge_store import EdgeStore

    return EdgeStore(edge_shard_folder(data_dir, collection))
