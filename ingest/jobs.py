"""Background ingestion jobs: uploads return at once with a job, a small worker pool does the work.

Jobs live in this process's memory: they report progress while a file is worked on. What is
done is recorded in the store itself (the document point); what is accepted but not yet done is
kept in the upload spool (``ingest.spool``) until its job ends, and ``resume`` queues it again
after a restart or a crash. A worker takes every job queued at that moment (up to
``JOBS_PER_RUN``) and ingests them in one ``IngestPipeline.ingest_many`` run, so that a folder
uploaded as many small files shares embedding batches instead of embedding one or two chunks
at a time.

A run that stops because a setting is at fault (``IngestStoppedError``: a refused token, no
credits, an unknown model, an endpoint unreachable after its retries) fails none of its files:
they wait, "paused" with the reason, still in the spool, and a run is tried again after
``pause_first_s``, the wait doubling up to ``pause_max_s`` while the cause lasts. An endpoint
that comes back is picked up by itself; a token or model changed in the settings is picked up
at the restart, when ``resume`` queues the spool again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from ingest.errors import RETRY_AFTER_S, IngestStoppedError, QueueFullError, describe_exception
from ingest.models import IngestFile, IngestOutcome
from ingest.pipeline import IngestPipeline
from ingest.spool import UploadSpool

JobStatus = Literal["queued", "processing", "paused", "done", "failed"]
#: Accepted and not yet finished: held in the spool, counted against the queue's bounds.
UNFINISHED: tuple[JobStatus, ...] = ("queued", "processing", "paused")
# How many finished jobs are remembered for the pages and the API.
KEEP_FINISHED = 500
# The most queued jobs one worker takes into a single ingest_many run.
JOBS_PER_RUN = 64
# The most files and bytes accepted and not yet ingested (what the spool holds on disk); past
# either, an upload is refused with QueueFullError (a 503 with Retry-After at the API). A file
# larger than the byte bound is always refused: keep it above the upload limit.
MAX_QUEUED_FILES = 5000
MAX_QUEUED_BYTES = 2 * 1024 * 1024 * 1024
# After a run stopped on a setting, the first wait before trying again, and the longest.
PAUSE_FIRST_S = 30.0
PAUSE_MAX_S = 600.0

log = logging.getLogger(__name__)


class JobInfo(BaseModel):
    """What `GET /api/jobs/{id}` returns."""

    id: str
    filename: str
    status: JobStatus
    stage: str
    done: int
    total: int
    doc_id: str | None = None
    chunks: int = 0
    error: str | None = Field(
        default=None,
        description="Why the file failed, or, while ``paused``, why it waits (it is tried "
        "again by itself)",
    )
    already_indexed: bool = False
    created_at: str
    finished_at: str | None = None


@dataclass
class _Job:
    id: str
    # The bytes, only where there is no spool (tests, scripts); with one, the run reads them
    # back from disk when it takes the job, so a queue of large uploads costs no memory.
    upload: IngestFile | None
    filename: str
    doc_id: str
    size: int
    status: JobStatus = "queued"
    stage: str = "queued"
    done: int = 0
    total: int = 0
    outcome: IngestOutcome | None = None
    paused: str | None = None  # why it waits, while status is "paused"
    created_at: str = field(default_factory=lambda: _now())
    finished_at: str | None = None

    def hold(self, reason: str | None) -> None:
        """Wait, "paused" with ``reason``; with None, queued again (ingestion resumed)."""
        self.status = self.stage = "paused" if reason else "queued"
        self.paused = reason

    def info(self) -> JobInfo:
        outcome = self.outcome
        return JobInfo(
            id=self.id,
            filename=self.filename,
            status=self.status,
            stage=self.stage,
            done=self.done,
            total=self.total,
            doc_id=outcome.doc_id if outcome and outcome.doc_id else self.doc_id,
            chunks=outcome.chunks if outcome else 0,
            error=outcome.error if outcome else self.paused,
            already_indexed=bool(outcome and outcome.status == "unchanged"),
            created_at=self.created_at,
            finished_at=self.finished_at,
        )


class JobQueue(Protocol):
    """Where uploads wait and how their jobs are told: ``JobManager`` in this process, or
    ``ingest.queue_jobs.QueuedJobs`` over Redis for ``semsearch worker`` processes."""

    def submit(self, source: IngestFile) -> JobInfo: ...

    def resume(self) -> list[JobInfo]: ...

    def get(self, job_id: str) -> JobInfo | None: ...

    def recent(self) -> list[JobInfo]: ...

    def paused(self) -> str | None: ...

    def wait_idle(self, timeout: float = 60.0) -> bool: ...

    def shutdown(self) -> None: ...


class JobManager:
    """Runs submitted files through `IngestPipeline.ingest_many` on a bounded thread pool."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        *,
        workers: int = 1,
        spool: UploadSpool | None = None,
        max_queued_files: int = MAX_QUEUED_FILES,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        pause_first_s: float = PAUSE_FIRST_S,
        pause_max_s: float = PAUSE_MAX_S,
    ) -> None:
        self._pipeline = pipeline
        self._spool = spool
        self._max_files = max(1, max_queued_files)
        self._max_bytes = max(1, max_queued_bytes)
        self._reserved = 0  # bytes of submits between their room check and their enqueue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        self._jobs: dict[str, _Job] = {}
        self._queue: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._pause_first_s = max(0.01, pause_first_s)
        self._pause_max_s = max(self._pause_first_s, pause_max_s)
        self._next_pause_s = self._pause_first_s
        self._paused: str | None = None  # why runs wait, while they do
        self._wake: threading.Timer | None = None

    def submit(self, source: IngestFile) -> JobInfo:
        """Queue a file; with a spool, its bytes are on disk before this returns.

        An upload comes as the ``CheckedFile`` of ``IngestPipeline.accept``, so it is judged once;
        a ``SourceFile`` is judged when its run takes it, and fails its job if rejected.

        Raises ``QueueFullError`` when the files accepted and not yet ingested would pass
        ``max_queued_files`` files or ``max_queued_bytes`` bytes, and ``StorageFullError`` when
        the spool's disk has no room for it: nothing is kept of a refused upload (the spool
        removes what it had written of it), and no job is made."""
        size = len(source.data)
        with self._lock:
            self._make_room(size)
            self._reserved += size
        try:
            job_id = uuid.uuid4().hex
            if self._spool is not None:
                spooled = self._spool.put(job_id, source)
                return self._enqueue(job_id, spooled.name, spooled.sha256, spooled.size, None)
            digest = hashlib.sha256(source.data).hexdigest()
            return self._enqueue(job_id, source.name, digest, size, source)
        finally:
            with self._lock:
                self._reserved -= size

    def resume(self) -> list[JobInfo]:
        """Queue again the uploads an earlier run accepted but did not finish (call once, at
        start, before any new submit); they were accepted, so no bound refuses them."""
        if self._spool is None:
            return []
        return [
            self._enqueue(job_id, entry.name, entry.sha256, entry.size, None)
            for job_id, entry in self._spool.entries()
        ]

    def _make_room(self, size: int) -> None:
        """Refuse a file the queue has no room for (the caller holds the lock)."""
        waiting = [job for job in self._jobs.values() if job.status in UNFINISHED]
        held = sum(job.size for job in waiting) + self._reserved
        if len(waiting) >= self._max_files or held + size > self._max_bytes:
            raise QueueFullError(
                f"the ingestion queue is full ({len(waiting)} files, {held // (1024 * 1024)} MB "
                f"not yet ingested; at most {self._max_files} files and "
                f"{self._max_bytes // (1024 * 1024)} MB): try again once some are done",
                retry_after=RETRY_AFTER_S,
            )

    def _enqueue(
        self, job_id: str, name: str, digest: str, size: int, upload: IngestFile | None
    ) -> JobInfo:
        job = _Job(id=job_id, upload=upload, filename=name, doc_id=digest, size=size)
        with self._lock:
            if self._paused is not None:
                job.hold(self._paused)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._forget_old()
        self._pool.submit(self._run)
        return job.info()

    def get(self, job_id: str) -> JobInfo | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.info() if job else None

    def recent(self) -> list[JobInfo]:
        """Newest first."""
        with self._lock:
            return [job.info() for job in reversed(self._jobs.values())]

    def paused(self) -> str | None:
        """Why ingestion waits, while it does (the status page says so); None otherwise."""
        with self._lock:
            return self._paused

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued, processing or paused. For tests and scripts that must
        wait for uploads to be done; the server never calls it (its shutdown waits on the
        pool)."""
        deadline = datetime.now(UTC).timestamp() + timeout
        while datetime.now(UTC).timestamp() < deadline:
            with self._lock:
                if all(j.status not in UNFINISHED for j in self._jobs.values()):
                    return True
            threading.Event().wait(0.05)
        return False

    def shutdown(self) -> None:
        with self._lock:
            if self._wake is not None:
                self._wake.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        """Ingest the jobs queued now in one run (none left: an earlier run took them)."""
        with self._lock:
            if self._paused is not None:
                return  # the wake-up timer starts the runs again
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), JOBS_PER_RUN))]
            for job in batch:
                job.status, job.paused = "processing", None
        if not batch:
            return

        taken: list[_Job] = []  # the jobs whose files the run was given, in its order

        def files() -> Iterator[IngestFile]:
            """Each job's file, read only now; one that cannot be read back fails alone."""
            for job in batch:
                try:
                    file = self._file_of(job)
                except (OSError, ValueError, KeyError) as error:
                    reason = f"its upload could not be read back: {describe_exception(error)}"
                    self._finish(job, IngestOutcome.failure(job.filename, reason))
                    continue
                taken.append(job)
                yield file

        def progress(index: int, stage: str, done: int, total: int) -> None:
            job = taken[index]
            job.stage, job.done, job.total = stage, done, total

        try:
            for index, outcome in enumerate(self._pipeline.ingest_many(files(), progress=progress)):
                self._finish(taken[index], outcome)
        except IngestStoppedError as stop:  # a setting, not these files: they wait
            self._pause([job for job in batch if job.outcome is None], stop.message)
            return
        except Exception as error:  # a bug or an unreachable store: the jobs fail, the pool lives
            for job in batch:
                if job.outcome is None:
                    self._finish(job, IngestOutcome.failure(job.filename, str(error)))
        with self._lock:
            self._next_pause_s = self._pause_first_s  # it went through: the cause is gone

    def _pause(self, jobs: list[_Job], reason: str) -> None:
        """Put ``jobs`` back at the head of the queue, paused, and try again after a wait that
        doubles while the cause lasts; their spool entries stay."""
        with self._lock:
            self._paused = reason
            for job in reversed(jobs):
                job.done = job.total = 0
                self._queue.appendleft(job)
            for job in self._queue:
                job.hold(reason)
            if self._wake is not None:  # another run stopped first: its wake-up stands
                return
            wait = self._next_pause_s
            self._next_pause_s = min(self._pause_max_s, wait * 2)
            self._wake = threading.Timer(wait, self._resume_runs)
            self._wake.daemon = True
            self._wake.start()
        log.warning("%s; %d files wait, tried again in %.0f s", reason, len(self._queue), wait)

    def _resume_runs(self) -> None:
        with self._lock:
            self._paused = None
            self._wake = None
            for job in self._queue:
                job.hold(None)
            runs = -(-len(self._queue) // JOBS_PER_RUN)
        for _ in range(runs):
            try:
                self._pool.submit(self._run)
            except RuntimeError:  # shutting down: the spool keeps them for the next start
                return

    def _file_of(self, job: _Job) -> IngestFile:
        """The job's file, read from the spool only now that its run takes it."""
        if job.upload is not None:
            return job.upload
        assert self._spool is not None
        return self._spool.load(job.id)

    def _finish(self, job: _Job, outcome: IngestOutcome) -> None:
        job.outcome = outcome
        job.upload = None
        job.stage = "failed" if outcome.status == "failed" else "done"
        job.finished_at = _now()
        job.status = "failed" if outcome.status == "failed" else "done"
        if self._spool is not None:
            self._spool.remove(job.id)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.status not in UNFINISHED]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
