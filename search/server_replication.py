"""How a collection on a Qdrant server (``QDRANT_URL``) is sharded and replicated, and how
consistent its reads and writes are: settings a single server ignores and a cluster needs.

The sharding and replication of a collection are fixed when it is created (Qdrant can
reshard only in its cloud), so they apply to a collection this app creates; one that exists
keeps its own. The read consistency and write ordering go with every call.

Why these defaults (docs/scaling.md has the whole failure analysis):

- ``write_ordering = "medium"``: ``ingest.write_stage`` writes a document's "processing"
  marker, then its chunks, then its "done" point, and ``ingest.recovery`` relies on a replica
  never holding a chunk without the marker before it. Qdrant's default, ``weak``, lets two
  replicas apply sequential writes in different orders; ``medium`` sends every write through
  the shard's leader, which orders them (``strong`` does too, through a fixed leader, and
  refuses writes while that one node is down).
- ``read_consistency = "quorum"``: a read asks more than half of a shard's replicas and keeps
  the points present in every answer, so with writes acknowledged by more than half as well
  (``write_consistency_factor``), a read meets every acknowledged write, and one replica down
  of three leaves reads working. Qdrant's ``majority`` asks every replica, so one replica down
  fails every read of its shard (read in Qdrant's source, ``execute_read_operation.rs``).
- ``shard_number``, ``replication_factor``, ``write_consistency_factor``: blank leaves the
  server's own defaults (one shard per node, one replica, one acknowledgement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Plain values, no qdrant-client here: the settings import this module, and the embedded
# default never pays for importing qdrant-client (``search.client_store`` turns them into its
# types).

WriteOrdering = Literal["weak", "medium", "strong"]
ReadConsistency = Literal["1", "majority", "quorum", "all"]


@dataclass(frozen=True)
class Replication:
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    read_consistency: ReadConsistency = "quorum"
    write_ordering: WriteOrdering = "medium"

    def collection_arguments(self) -> dict[str, Any]:
        """``create_collection``'s sharding and replication arguments, the blank ones left out
        so that the server decides them."""
        chosen = {
            "shard_number": self.shard_number,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency_factor,
        }
        return {name: value for name, value in chosen.items() if value is not None}
