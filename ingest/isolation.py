"""Files are read in worker processes, each with a wall-time and a memory limit.

A reader is the part of ingestion that runs attacker-shaped input through third-party parsers
(pypdf, python-docx, BeautifulSoup, markdown-it, charset-normalizer). In the server's own process
one bad file could hold the GIL for minutes (a quadratic regex took 119 s on 200 KB of spaces)
or exhaust its memory, and every search waited. So, as Apache Tika's server and paperless-ngx
do, ``IsolatedReader`` hands each file to a worker process and waits at most ``timeout_s``:

- a file that takes longer fails alone, "took longer than N s to read", and its worker is killed
  and replaced (``ReadTimeoutError``);
- a worker's address space is capped at its size after start-up plus ``memory_mb``, so a file
  that needs more fails alone, "needed more than N MB to read" (``ReadMemoryError``), and a
  worker that dies anyway (killed by the system) is replaced too;
- a parse error is the file's ``DocumentParseError``, worded as in the server's own process.

Workers are started with ``spawn`` (a fresh interpreter: nothing of the server's threads or
model is copied), one at a time as they are needed, and kept for the next file; ``close`` stops
them. Chunking, which needs the tokenizer, stays in the server's process: it is linear in the
text a reader returned.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from ingest.errors import DocumentParseError, IngestError, UnreadableFileError
from ingest.models import Document, PageProgress
from ingest.ocr import OcrSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
# OCR needs it: RapidOCR loads its models in the worker when the first scan comes, and ONNX
# Runtime then reserves address space well beyond what it touches (about 1 GB resident, 1.8 GB
# mapped), and how much varies from run to run. Measured (docs/benchmarks.md, "OCR"): two
# pages of the eval scan failed at 1,536 MB and read at 1,792; a dense 2,000 x 2,000 page
# failed at 1,792 in one run and read at 1,536 in another; every read at 2,048 passed. Half
# again over that, for the pages denser still.
DEFAULT_MEMORY_MB = 3072
# A worker gets this long to start (import the parsers) before it is taken as broken.
START_TIMEOUT_S = 60.0
# Held by each worker and let go when its memory runs out, to report that it did.
RESERVE_BYTES = 8 * 1024 * 1024


class ReadTimeoutError(DocumentParseError):
    """Reading the file took longer than the limit; its worker was replaced."""


class ReadMemoryError(DocumentParseError):
    """Reading the file needed more memory than the limit; its worker was replaced."""


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection

    def stop(self) -> None:
        """Kill the worker: it is never trusted again after a limit was passed."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class IsolatedReader:
    """``load(filename, data) -> Document`` in a worker process; safe to share between threads
    (at most ``workers`` files are read at once, the others wait for a worker)."""

    def __init__(
        self,
        *,
        workers: int = 1,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        ocr: OcrSettings = OcrSettings(),
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.ocr = ocr
        self.workers = max(1, workers)  # files read at once (the pipeline reads this many ahead)
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(self.workers)
        self._lock = threading.Lock()
        self._closed = False

    def load(self, filename: str, data: bytes, progress: PageProgress | None = None) -> Document:
        """The file's ``Document``; raises ``DocumentParseError`` (or ``ReadTimeoutError``,
        ``ReadMemoryError``) naming the file and the cause. ``progress`` hears of each page
        read by OCR; the time limit then counts again from each page read."""
        with self._slots:
            worker = self._take()
            try:
                worker.connection.send((filename, data))
                outcome, value = self._answer(worker, filename, progress)
            except (EOFError, OSError):
                # The worker stopped: it may have said why first (no room for the bytes).
                said = _last_word(worker.connection)
                worker.process.join(timeout=5)
                why = self._died(worker)
                worker.stop()
                if said == "memory":
                    raise ReadMemoryError(filename, self._too_large()) from None
                raise DocumentParseError(filename, why) from None
            except BaseException:
                worker.stop()
                raise
            if outcome == "memory":
                worker.stop()
                raise ReadMemoryError(filename, self._too_large())
            self._give_back(worker)
            if outcome == "parse":
                raise DocumentParseError(filename, str(value))
            assert outcome == "ok" and isinstance(value, Document)
            return value

    def _answer(
        self, worker: _Worker, filename: str, progress: PageProgress | None
    ) -> tuple[str, object]:
        """The worker's last word on the file, passing its page progress on as it comes."""
        pages_read: tuple[int, int] | None = None
        while True:
            if not worker.connection.poll(self.timeout_s):
                what = "to read"
                if pages_read is not None:
                    what = f"to OCR page {pages_read[0] + 1} of {pages_read[1]}"
                raise ReadTimeoutError(
                    filename,
                    f"took longer than {self.timeout_s:g} s {what} (SEMSEARCH_READ_TIMEOUT_S)",
                )
            outcome, value = worker.connection.recv()
            if outcome != "progress":
                return outcome, value
            done, total = value
            pages_read = (done, total)
            if progress is not None:
                progress(done, total)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.connection.send(None)  # a clean exit
            worker.process.join(timeout=5)
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.stop()
        return self._start()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                worker.stop()
            else:
                self._idle.append(worker)

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(theirs, self.memory_mb, self.ocr),
            name="semsearch-reader",
            daemon=True,
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        if not ours.poll(START_TIMEOUT_S) or ours.recv() != "ready":
            worker.stop()
            raise RuntimeError("a reader process did not start")
        return worker

    def _too_large(self) -> str:
        return f"needed more than {self.memory_mb} MB to read (SEMSEARCH_READ_MEMORY_MB)"

    def _died(self, worker: _Worker) -> str:
        code = worker.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        log.warning("a reader process stopped while reading a file (%s)", how)
        return f"the process reading it stopped ({how}); it may need more memory than it may use"


def serve(connection: Connection, memory_mb: int, ocr: OcrSettings = OcrSettings()) -> None:
    """A worker's loop: read files until told to stop. Runs in the worker process. The OCR
    engine is loaded by the first file that needs it, under the cap, and kept."""
    from ingest.loaders import load_document  # the parsers, imported before the cap

    _cap_memory(memory_mb)
    # Freed when memory runs out, so that the worker can still say so before it stops.
    reserve = [bytearray(RESERVE_BYTES)]
    connection.send("ready")
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        except MemoryError:  # the file's bytes alone are more than it may hold
            reserve.clear()
            connection.send(("memory", None))
            return
        if task is None:
            return
        filename, data = task

        def progress(done: int, total: int) -> None:
            connection.send(("progress", (done, total)))

        try:
            connection.send(("ok", load_document(filename, data, progress, ocr=ocr)))
        except MemoryError:
            reserve.clear()
            connection.send(("memory", None))
            return
        except IngestError as error:
            connection.send(("parse", error.reason))
        except Exception as error:  # a reader's bug: that file's failure, never the worker's
            connection.send(("parse", UnreadableFileError(filename, error).reason))


def _last_word(connection: Connection) -> str | None:
    """What a stopped worker sent before it stopped, if anything."""
    try:
        if connection.poll(0.5):
            outcome, _ = connection.recv()
            return str(outcome)
    except (EOFError, OSError, ValueError, TypeError):
        pass
    return None


def _cap_memory(memory_mb: int) -> None:
    """Cap the address space at what the worker uses now plus ``memory_mb`` (Linux; elsewhere
    only the wall-time limit applies)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        now = pages * resource.getpagesize()
        limit = now + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError) as error:
        log.warning("reader memory limit not set: %s", error)
