"""A vector cache on disk, so that an unchanged chunk is never embedded twice.

Re-ingesting an edited document, re-running an ingest after a crash, or uploading the same
passage in two files would otherwise pay again for every chunk: seconds of CPU locally, money
and rate limits remotely.

* **Keys.** sha256 over the provider's *namespace* (everything that decides a document vector:
  provider kind, model, endpoint URL, document prompt, normalisation, truncation and, for a TEI
  server, the model it reports serving) and the sha256 of the text. Changing any of those
  changes every key, so a vector from another model or other settings is never served. The one
  thing the cache cannot see is a different model redeployed behind the same endpoint URL with
  the same ``EMBEDDINGS_MODEL`` on a server that is not TEI: delete the file after doing that.
* **Values.** float32 blobs, as Qdrant stores them; hits and fresh vectors are both returned
  rounded to float32, so a re-ingest gives bit-identical vectors either way.
* **What is cached.** Document texts only; queries are short, varied and cheap.
* **Threads.** One SQLite connection behind a lock (web request threads and the ingestion
  thread share the provider); WAL mode, so another process may read the file meanwhile.
* **Failures.** The cache is an optimisation: a read or write error is logged and the texts
  are embedded as if it were empty; an unreadable file is moved aside and started afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embeddings.base import EmbeddingProvider, Vector

log = logging.getLogger(__name__)

FILENAME = "embeddings-cache.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors ("
    " key BLOB PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL) WITHOUT ROWID"
)
# SQLite's default limit on host parameters is 999 in older builds.
_CHUNK = 500


@runtime_checkable
class HasCacheNamespace(Protocol):
    """A provider that can say what decides its vectors (the providers in this package can)."""

    def cache_namespace(self) -> Mapping[str, object]: ...


def namespace_digest(namespace: Mapping[str, object]) -> bytes:
    """A stable digest of a namespace (key order does not matter)."""
    canonical = json.dumps(dict(namespace), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def entry_key(namespace: bytes, text: str) -> bytes:
    """The cache key of ``text`` under a namespace digest."""
    text_digest = hashlib.sha256(text.encode("utf-8")).digest()
    return hashlib.sha256(namespace + text_digest).digest()


class VectorCache:
    """A SQLite file of float32 vectors by key; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.warning(
                "embeddings cache %s is unreadable (%s); moved to %s", self.path, exc, aside
            )
            self.path.replace(aside)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.commit()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Vector]:
        """The vectors found for ``keys``; missing ones are simply absent."""
        found: dict[bytes, Vector] = {}
        unique = list(dict.fromkeys(keys))
        try:
            with self._lock:
                for start in range(0, len(unique), _CHUNK):
                    part = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(part))
                    rows = self._conn.execute(
                        f"SELECT key, dim, vector FROM vectors WHERE key IN ({marks})", part
                    ).fetchall()
                    for key, dim, blob in rows:
                        if len(blob) == 4 * dim:
                            found[bytes(key)] = np.frombuffer(blob, dtype="<f4").tolist()
        except sqlite3.Error as exc:
            log.warning("embeddings cache read failed, embedding without it: %s", exc)
            return {}
        return found

    def put_many(self, items: Iterable[tuple[bytes, Vector]]) -> None:
        """Store vectors (as float32); a failure is logged, never raised."""
        rows = [
            (key, len(vector), np.asarray(vector, dtype="<f4").tobytes()) for key, vector in items
        ]
        try:
            with self._lock, self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO vectors (key, dim, vector) VALUES (?, ?, ?)", rows
                )
        except sqlite3.Error as exc:
            log.warning("embeddings cache write failed: %s", exc)

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CachedProvider:
    """An :class:`EmbeddingProvider` that looks texts up in a :class:`VectorCache` first.

    ``embed_documents`` sends only the misses to the wrapped provider, in one call (which
    batches as usual), stores what comes back and returns all vectors in order. ``close``
    closes the wrapped provider, not the cache (whoever opened the cache closes it).
    """

    def __init__(self, inner: EmbeddingProvider, cache: VectorCache) -> None:
        if not isinstance(inner, HasCacheNamespace):
            raise TypeError(f"{type(inner).__name__} does not say what decides its vectors")
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.model_id = inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        assert isinstance(self.inner, HasCacheNamespace)
        namespace = namespace_digest(self.inner.cache_namespace())
        keys = [entry_key(namespace, text) for text in texts]
        found = self.cache.get_many(keys)
        misses = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if misses:
            fresh = self.inner.embed_documents(list(misses.values()))
            rounded = [np.asarray(v, dtype="<f4").tolist() for v in fresh]
            stored = list(zip(misses, rounded, strict=True))
            self.cache.put_many(stored)
            found.update(stored)
            log.debug(
                "embeddings cache: %d hit(s), %d miss(es)", len(texts) - len(misses), len(misses)
            )
        return [found[key] for key in keys]

    def embed_query(self, text: str) -> Vector:
        """Queries are not cached: short, varied, and cheap to embed."""
        return self.inner.embed_query(text)

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"CachedProvider({self.inner!r}, cache={str(self.cache.path)!r})"


def with_cache(provider: EmbeddingProvider, cache: VectorCache) -> EmbeddingProvider:
    """``provider`` behind the cache, or unchanged when it cannot say what decides its vectors
    (then caching could serve a vector from other settings, so it is better not to)."""
    if isinstance(provider, CachedProvider):
        return provider
    if not isinstance(provider, HasCacheNamespace):
        log.info("embeddings cache not used: %s has no cache namespace", type(provider).__name__)
        return provider
    return CachedProvider(provider, cache)


def unwrap(provider: EmbeddingProvider) -> EmbeddingProvider:
    """The provider under any cache, for a connection check that must really ask the server."""
    return provider.inner if isinstance(provider, CachedProvider) else provider
