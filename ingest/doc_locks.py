"""One lock per document, shared by whatever changes a document's points or its original.

Without it a delete and a write of the same ``doc_id`` interleave: the delete removes the
"processing" marker and the chunks written so far, the write goes on with the rest and its final
"done" point, and the deleted document comes back. So the write stage holds the document's lock
from its marker to its "done" point (its original saved in between), and
``IngestPipeline.delete`` holds it too.

The semantics: a delete that arrives while its document is being written waits for that write
to end and then deletes it, so the user's delete wins and nothing of the document comes back. A
delete that arrives earlier, while the file is still read or embedded, deletes what is stored
then, and the upload still in progress writes its own version afterwards: that upload was the
user's too, and later.

The locks are this process's: replicas sharing a Qdrant server do not see each other's. A
holder of several documents' locks (the write stage, for the files one slice completed) takes
them with ``hold_all``, in the order of their ids, and no other inside them; everyone else takes
one at a time. So no two holders can wait on each other. Locks are made on first use and
dropped once nobody holds or waits for them, so the table stays as small as the number of
documents being changed right now.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

__all__ = ["DocumentLocks"]


@dataclass
class _Entry:
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: int = 0  # holders and waiters


class DocumentLocks:
    """Locks keyed by ``doc_id``; ``hold`` is re-entrant within a thread."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @contextmanager
    def hold(self, doc_id: str) -> Iterator[None]:
        """Hold ``doc_id``'s lock for the block, waiting while another thread holds it."""
        with self._guard:
            entry = self._entries.setdefault(doc_id, _Entry())
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[doc_id]

    @contextmanager
    def hold_all(self, doc_ids: Iterable[str]) -> Iterator[None]:
        """Hold the locks of all these documents for the block, taken in the order of their
        ids (each once), so that two holders of several can never wait on each other."""
        with ExitStack() as held:
            for doc_id in sorted(set(doc_ids)):
                held.enter_context(self.hold(doc_id))
            yield

    def __len__(self) -> int:
        """How many documents are locked or waited for now."""
        with self._guard:
            return len(self._entries)
