"""The job queue of an app replica when ingestion runs in ``semsearch worker`` processes.

``submit`` puts the upload's bytes in the spool (on storage every replica and worker reaches,
``SEMSEARCH_INCOMING_DIR``), writes its record (``ingest.job_records``) and enqueues its id
(``ingest.job_broker``); a worker does the rest. It answers the same questions as the
in-process ``JobManager``, from Redis, so any replica answers for any job.
"""

from __future__ import annotations

import contextlib
import time
import uuid

from dramatiq.brokers.redis import RedisBroker

from ingest.errors import QueueFullError, QueueUnavailableError
from ingest.job_broker import enqueue
from ingest.job_records import JobRecord, JobRecords, now
from ingest.jobs import KEEP_FINISHED, RETRY_AFTER_S, JobInfo
from ingest.models import IngestFile
from ingest.spool import UploadSpool


class QueuedJobs:
    """``JobQueue`` over Redis: the records there, the work in ``semsearch worker``."""

    def __init__(
        self,
        records: JobRecords,
        broker: RedisBroker,
        spool: UploadSpool,
        *,
        max_queued_files: int,
        max_queued_bytes: int,
    ) -> None:
        # A worker in the same process takes its messages from the same queue and records.
        self.records = records
        self.broker = broker
        self.spool = spool
        self._max_files = max(1, max_queued_files)
        self._max_bytes = max(1, max_queued_bytes)

    def submit(self, source: IngestFile) -> JobInfo:
        """Spool, record and enqueue one upload. The bounds are counted over every replica's
        unfinished jobs (two replicas checking at the same instant may both pass them by one
        file). Raises ``QueueFullError``, ``StorageFullError``, or ``StoreUnavailableError``
        when Redis cannot be reached (nothing is kept of the upload then)."""
        self._make_room(len(source.data))
        job_id = uuid.uuid4().hex
        spooled = self.spool.put(job_id, source)
        record = JobRecord(
            id=job_id,
            filename=spooled.name,
            doc_id=spooled.sha256,
            size=spooled.size,
            status="queued",
            stage="queued",
            done=0,
            total=0,
            created_at=now(),
        )
        try:
            self.records.create(record)
            with self.records.reaching():
                enqueue(self.broker, job_id)
        except BaseException:
            self.spool.remove(job_id)
            self._forget(job_id)
            raise
        return record.info()

    def _forget(self, job_id: str) -> None:
        # Redis is what failed: the record is not there either, or stays unlisted.
        with contextlib.suppress(QueueUnavailableError):
            self.records.forget(job_id)

    def _make_room(self, size: int) -> None:
        files, held = self.records.unfinished()
        if files >= self._max_files or held + size > self._max_bytes:
            raise QueueFullError(
                f"the ingestion queue is full ({files} files, {held // (1024 * 1024)} MB not "
                f"yet ingested; at most {self._max_files} files and "
                f"{self._max_bytes // (1024 * 1024)} MB): try again once some are done",
                retry_after=RETRY_AFTER_S,
            )

    def resume(self) -> list[JobInfo]:
        """Nothing to do: the queue in Redis keeps what was accepted, and the spool is shared by
        replicas, so one replica's start must not queue another's uploads again."""
        return []

    def get(self, job_id: str) -> JobInfo | None:
        record = self.records.get(job_id)
        return record.info() if record else None

    def recent(self) -> list[JobInfo]:
        return [record.info() for record in self.records.recent(KEEP_FINISHED)]

    def paused(self) -> str | None:
        return self.records.paused()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job of any replica is unfinished (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.records.unfinished()[0] == 0:
                return True
            time.sleep(0.1)
        return False

    def shutdown(self) -> None:
        self.broker.close()
        self.records.close()
