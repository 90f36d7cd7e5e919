"""`semsearch worker`: ingest the uploads that `semsearch serve` replicas queue in Redis.

It opens the same services as the server (the store on ``QDRANT_URL``, the embeddings node, the
isolated readers) and runs ``ingest.queue_worker.IngestWorker`` until SIGTERM or Ctrl-C, then
finishes the files in hand. Several workers on several machines share the queue; the spool
(``SEMSEARCH_INCOMING_DIR``) and the originals (``SEMSEARCH_FILES_DIR``) must be on storage
they all reach.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from ingest.queue_jobs import QueuedJobs
from ingest.queue_worker import IngestWorker
from web.cli_services import opened_services
from web.settings import Settings

err = Console(stderr=True)


def worker(
    threads: Annotated[
        int, typer.Option(help="Files ingested side by side by this process", min=1, max=64)
    ] = 1,
) -> None:
    """Ingest uploads queued by the server replicas (needs SEMSEARCH_REDIS_URL and QDRANT_URL)."""
    settings = Settings()
    if not settings.redis_url.get_secret_value():
        err.print(
            "[red]error:[/red] SEMSEARCH_REDIS_URL is not set: a worker takes uploads from the "
            "queue that `semsearch serve` replicas fill when it is (with QDRANT_URL); without "
            "it the server ingests its own uploads.",
            highlight=False,
        )
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per Qdrant request
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with opened_services(settings) as services:
        # With SEMSEARCH_REDIS_URL the services' job queue is the shared one: the worker takes
        # its messages from that broker and keeps that spool's jobs in the same records.
        queue = services.jobs
        assert isinstance(queue, QueuedJobs)
        IngestWorker(
            services.pipeline, services.store, queue.records, queue.spool, queue.broker
        ).run(stop, threads=threads)
