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

from inference.errors import SemsearchError
from ingest.job_records import JobRecords
from ingest.queue_worker import IngestWorker
from ingest.spool import UploadSpool
from web.services import open_queue_broker, open_services
from web.settings import Settings

err = Console(stderr=True)


def worker(
    threads: Annotated[
        int, typer.Option(help="Files ingested side by side by this process", min=1, max=64)
    ] = 1,
) -> None:
    """Ingest uploads queued by the server replicas (needs SEMSEARCH_REDIS_URL and QDRANT_URL)."""
    settings = Settings()
    redis_url = settings.redis_url.get_secret_value()
    if not redis_url:
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
    try:
        with open_services(settings) as services:
            records = JobRecords(redis_url, settings.collection)
            broker = open_queue_broker(settings)
            try:
                IngestWorker(
                    services.pipeline,
                    services.store,
                    records,
                    UploadSpool(settings.spool_dir),
                    broker,
                ).run(stop, threads=threads)
            finally:
                broker.close()
                records.close()
    except SemsearchError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None
