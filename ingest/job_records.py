"""Jobs as records in Redis, so that every app replica and every worker sees the same ones.

With ``SEMSEARCH_REDIS_URL`` set, a replica that accepts an upload writes its record here and
a ``semsearch worker`` updates it as it works (stage, pages, chunks); ``GET /api/jobs/{id}`` on
any replica reads it back. Keys, under ``semsearch:<collection>:``:

- ``job:<id>``: the job's ``JobRecord`` as JSON (finished ones expire after ``FINISHED_TTL_S``);
- ``jobs``: a sorted set of job ids by creation time, for the newest-first list;
- ``unfinished``: a hash of id to size for the jobs accepted and not finished, the queue's
  bounds;
- ``paused``: why ingestion waits (a setting at fault), while it does, with an expiry, and
  ``pause_wait``, the last wait, doubled at the next stop.

A record has one writer at a time: the replica until it is queued, then the worker that holds
its message (Dramatiq hands a message to one worker until that one is taken for dead).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import redis

from inference.redact import redact_url
from ingest.errors import QueueUnavailableError
from ingest.jobs import KEEP_FINISHED, PAUSE_FIRST_S, PAUSE_MAX_S, UNFINISHED, JobInfo, JobStatus
from ingest.models import IngestOutcome

# How long a finished job's record is kept for the pages and the API.
FINISHED_TTL_S = 7 * 24 * 3600
# The most job ids the newest-first list keeps (unfinished ones always have a record).
LISTED = 10_000


class JobRecord(JobInfo):
    """A job as kept in Redis: what the API shows, and what the queue needs besides."""

    doc_id: str
    size: int
    attempts: int = 0  # deliveries to a worker: more than one means a worker died or it waited

    def info(self) -> JobInfo:
        return JobInfo.model_validate(self.model_dump(exclude={"size", "attempts"}))

    def waiting(self, reason: str) -> JobRecord:
        """Paused with ``reason`` (a setting at fault): tried again later, by itself."""
        return self.model_copy(update={"status": "paused", "stage": "paused", "error": reason})

    def taken(self) -> JobRecord:
        """Taken by a worker: once more than before."""
        update = {"status": "processing", "stage": "processing", "error": None}
        return self.model_copy(update={**update, "attempts": self.attempts + 1})

    def finished(self, outcome: IngestOutcome) -> JobRecord:
        status: JobStatus = "failed" if outcome.status == "failed" else "done"
        return self.model_copy(
            update={
                "status": status,
                "stage": status,
                "doc_id": outcome.doc_id or self.doc_id,
                "chunks": outcome.chunks,
                "error": outcome.error,
                "already_indexed": outcome.status == "unchanged",
                "finished_at": now(),
            }
        )


class JobRecords:
    """The records of one collection's jobs in Redis."""

    def __init__(self, url: str, collection: str) -> None:
        self.url = redact_url(url)
        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5
        )
        self._prefix = f"semsearch:{collection}:"

    @contextmanager
    def reaching(self) -> Iterator[None]:
        """Redis's connection errors as the one a user can act on (a 503 at the API)."""
        try:
            yield
        except redis.RedisError as error:
            raise QueueUnavailableError(self.url, error) from error

    def close(self) -> None:
        self._redis.close()

    def _key(self, name: str) -> str:
        return self._prefix + name

    def create(self, record: JobRecord) -> None:
        with self.reaching(), self._redis.pipeline() as pipe:
            pipe.set(self._key(f"job:{record.id}"), record.model_dump_json())
            pipe.zadd(self._key("jobs"), {record.id: time.time()})
            pipe.zremrangebyrank(self._key("jobs"), 0, -LISTED - 1)
            pipe.hset(self._key("unfinished"), record.id, record.size)
            pipe.execute()

    def get(self, job_id: str) -> JobRecord | None:
        with self.reaching():
            raw = self._redis.get(self._key(f"job:{job_id}"))
            return JobRecord.model_validate_json(raw) if raw else None

    def save(self, record: JobRecord) -> None:
        """Write a record back; a finished one leaves the queue's bounds and expires later."""
        with self.reaching():
            key = self._key(f"job:{record.id}")
            with self._redis.pipeline() as pipe:
                if record.status in UNFINISHED:
                    pipe.set(key, record.model_dump_json())
                else:
                    pipe.set(key, record.model_dump_json(), ex=FINISHED_TTL_S)
                    pipe.hdel(self._key("unfinished"), record.id)
                pipe.execute()

    def forget(self, job_id: str) -> None:
        """Remove a job that was never queued (its upload could not be handed on)."""
        with self.reaching(), self._redis.pipeline() as pipe:
            pipe.delete(self._key(f"job:{job_id}"))
            pipe.zrem(self._key("jobs"), job_id)
            pipe.hdel(self._key("unfinished"), job_id)
            pipe.execute()

    def recent(self, limit: int = KEEP_FINISHED) -> list[JobRecord]:
        """Newest first; ids whose record has expired are left out."""
        with self.reaching():
            ids: list[str] = self._redis.zrevrange(self._key("jobs"), 0, limit - 1)  # type: ignore[assignment]
            if not ids:
                return []
            raws = self._redis.mget([self._key(f"job:{job_id}") for job_id in ids])
            return [JobRecord.model_validate_json(raw) for raw in raws if raw]

    def unfinished(self) -> tuple[int, int]:
        """How many jobs are accepted and not finished, and their bytes."""
        with self.reaching():
            sizes = self._redis.hvals(self._key("unfinished"))
            return len(sizes), sum(int(size) for size in sizes)

    def pause(self, reason: str) -> float:
        """Say ingestion waits, for the next wait: the first, then doubling up to the longest
        while the cause lasts (as the in-process jobs do). Returns the wait in seconds."""
        with self.reaching():
            last = self._redis.get(self._key("pause_wait"))
            wait = PAUSE_FIRST_S if last is None else min(PAUSE_MAX_S, 2 * float(last))
            with self._redis.pipeline() as pipe:
                pipe.set(self._key("paused"), reason, ex=int(wait))
                pipe.set(self._key("pause_wait"), wait, ex=int(4 * PAUSE_MAX_S))
                pipe.execute()
        return wait

    def resume(self) -> None:
        """A run went through: the cause is gone."""
        with self.reaching():
            self._redis.delete(self._key("paused"), self._key("pause_wait"))

    def paused(self) -> str | None:
        with self.reaching():
            raw = self._redis.get(self._key("paused"))
            return str(raw) if raw is not None else None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
