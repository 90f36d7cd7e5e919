"""What a ``semsearch worker`` process does: take uploads off the shared queue and ingest them.

Each message names one job. The worker reads the job's record and its spooled bytes, runs the
one file through the same ``IngestPipeline`` as the in-process jobs, and writes the outcome to
the record; only then does the actor return, and Dramatiq acknowledge the message. So:

- a worker killed mid-file leaves the message unacknowledged; once its heartbeat is older than
  ``SEMSEARCH_WORKER_HEARTBEAT_S`` another worker requeues it and does the file again. Before
  reading it, that worker removes the chunks the first one wrote (``ingest.recovery.
  discard_unfinished_write``); the point ids are the same either way (``search.points``), so
  nothing is written twice;
- a message delivered again after its job finished (a worker killed between the outcome and
  the acknowledgement) finds the record finished and does nothing;
- a run stopped by a setting at fault (``IngestStoppedError``) marks the job "paused" with the
  reason, and the message is retried later (``ingest.job_broker``); while ingestion is paused,
  workers put messages back without trying them, so a refused token costs one request per
  wait, not one per queued file.
"""

from __future__ import annotations

import logging
import threading
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from ingest.errors import IngestStoppedError, describe_exception
from ingest.job_broker import ACTOR, PAUSE_RETRIES, QUEUE
from ingest.job_records import JobRecord, JobRecords
from ingest.models import IngestOutcome
from ingest.pipeline import IngestPipeline
from ingest.recovery import discard_unfinished_write
from ingest.spool import UploadSpool
from search.store import VectorStore

log = logging.getLogger(__name__)

# A job's record is written at most this often while it runs (and at every change of stage).
PROGRESS_EVERY_S = 0.5


class StillPaused(Exception):
    """Ingestion waits for a setting to be fixed: the message goes back untried."""


def _retry_when(retries: int, error: BaseException) -> bool:
    return isinstance(error, IngestStoppedError | StillPaused) and retries < PAUSE_RETRIES


class IngestWorker:
    def __init__(
        self,
        pipeline: IngestPipeline,
        store: VectorStore,
        records: JobRecords,
        spool: UploadSpool,
        broker: RedisBroker,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._records = records
        self._spool = spool
        self._broker = broker
        dramatiq.actor(
            broker=broker,
            actor_name=ACTOR,
            queue_name=QUEUE,
            retry_when=_retry_when,
        )(self.process)

    def run(self, stop: threading.Event, *, threads: int = 1) -> None:
        """Work until ``stop`` is set, then finish the files in hand and return."""
        worker = dramatiq.Worker(self._broker, worker_threads=threads, worker_timeout=1000)
        worker.queue_prefetch = threads  # hold no file another worker could be doing
        worker.start()
        log.info("worker: taking uploads from the queue (%d at a time)", threads)
        try:
            stop.wait()
        finally:
            log.info("worker: stopping once the files in hand are done")
            worker.stop()

    def process(self, job_id: str) -> None:
        """The actor: one job, whole."""
        record = self._records.get(job_id)
        if record is None or record.status in ("done", "failed"):
            return  # finished already (delivered again), or its record expired
        waiting = self._records.paused()
        if waiting is not None:
            self._records.save(record.waiting(waiting))
            raise StillPaused(job_id)
        record = record.taken()
        self._records.save(record)
        if record.attempts > 1:
            discard_unfinished_write(self._store, record.doc_id)
        try:
            file = self._spool.load(job_id)
        except (OSError, ValueError, KeyError) as error:
            reason = f"its upload could not be read back: {describe_exception(error)}"
            self._finish(record, IngestOutcome.failure(record.filename, reason))
            return
        progress = _Progress(self._records, record)
        try:
            (outcome,) = self._pipeline.ingest_many([file], progress=progress)
        except IngestStoppedError as stop:
            self._records.save(progress.record.waiting(stop.message))
            self._records.pause(stop.message)
            log.warning("%s; %s waits and is tried again later", stop.message, record.filename)
            raise
        except Exception as error:  # a bug or an unreachable store: the job fails, we go on
            log.exception("ingesting %s failed", record.filename)
            outcome = IngestOutcome.failure(record.filename, str(error))
        self._records.resume()
        self._finish(progress.record, outcome)

    def _finish(self, record: JobRecord, outcome: IngestOutcome) -> None:
        self._records.save(record.finished(outcome))
        self._spool.remove(record.id)


class _Progress:
    """The run's progress callback, written to the job's record now and then."""

    def __init__(self, records: JobRecords, record: JobRecord) -> None:
        self._records = records
        self.record = record
        self._written = 0.0

    def __call__(self, index: int, stage: str, done: int, total: int) -> None:
        changed = stage != self.record.stage
        self.record = self.record.model_copy(update={"stage": stage, "done": done, "total": total})
        if changed or time.monotonic() - self._written >= PROGRESS_EVERY_S:
            self._records.save(self.record)
            self._written = time.monotonic()
