"""The long-lived parts of the application, opened once and closed once.

The web app opens them in its lifespan; each CLI command opens them for its own run. Both go
through `open_services`, so a server and a CLI command are wired identically. Routes never see
this whole object: ``web.deps`` hands each route only the part it uses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from embeddings.base import EmbeddingProvider
from embeddings.cache import VectorCache, with_cache
from embeddings.errors import EmbeddingConfigError
from embeddings.factory import build_provider
from embeddings.prompts import Prompts
from embeddings.rerank import RerankProviderName, build_reranker, resolve_rerank_provider
from embeddings.settings import ProviderName, resolve_provider
from generation.client import ChatClient
from generation.errors import GenerationConfigError, GenerationOffError
from generation.settings import ProviderName as GenerationProvider
from generation.settings import resolve_provider as resolve_generation
from inference.redact import redact_url
from ingest.backfill import backfill_chunk_fields
from ingest.chunking import load_default_tokenizer
from ingest.isolation import IsolatedReader
from ingest.jobs import JobManager, JobQueue
from ingest.ocr import OcrSettings, OcrUnavailableError, check_engine
from ingest.originals import OriginalFiles
from ingest.pipeline import IngestPipeline
from ingest.recovery import recover_interrupted, remove_partial_files
from ingest.spool import UploadSpool
from search.catalog import DocumentCatalog
from search.cluster_cache import ClusterCache
from search.collection import CollectionGuard
from search.factory import open_store
from search.query import SearchService
from search.reranking import RerankSetup
from search.results import DocumentInfo
from search.sparse import Bm25Encoder
from search.store import VectorStore
from web.settings import Settings

log = logging.getLogger("semsearch")


@dataclass(frozen=True)
class EmbeddingsInUse:
    """How the embeddings node was configured at start, as the settings page explains it."""

    provider: ProviderName
    reason: str
    prompts: Prompts
    cache: Path | None  # the vector cache's file, or None when EMBEDDINGS_CACHE is off


@dataclass(frozen=True)
class GenerationInUse:
    """The text-generation node as opened at start: its client, or why there is none (answers
    are off, or the settings cannot work: ``error``, shown on /settings and by the answer API)."""

    provider: GenerationProvider
    reason: str
    client: ChatClient | None
    error: str | None = None


def open_generation(settings: Settings) -> GenerationInUse:
    """A chat client when one is configured; never raises, since search works without it."""
    configured = settings.generation()
    try:
        provider, reason = resolve_generation(configured)
    except GenerationConfigError as error:
        log.warning("generation: %s", error.message)
        return GenerationInUse("none", error.message, None, error.message)
    try:
        client = ChatClient(configured)
    except GenerationOffError:
        log.info("generation: off (%s)", reason)
        return GenerationInUse(provider, reason, None)
    except GenerationConfigError as error:
        log.warning("generation: %s", error.message)
        return GenerationInUse(provider, reason, None, error.message)
    log.info("generation: provider %s (%s), %s", provider, reason, client.label)
    return GenerationInUse(provider, reason, client)


@dataclass(frozen=True)
class RerankInUse:
    """The reranker as opened at start: which provider and why, and what searches use (the
    reranker, or the reason it could not be opened, which every search then reports)."""

    provider: RerankProviderName
    reason: str
    setup: RerankSetup


def open_reranker(settings: Settings) -> RerankInUse:
    """The configured reranker; never raises: search works without it, and says why."""
    configured = settings.rerank()
    try:
        provider, reason = resolve_rerank_provider(configured)
        reranker = build_reranker(configured)
    except EmbeddingConfigError as error:
        log.warning("rerank: %s", error.message)
        return RerankInUse("none", error.message, RerankSetup(error=error.message))
    if reranker is None:
        log.info("rerank: off (%s)", reason)
    else:
        log.info("rerank: provider %s (%s), %s", provider, reason, redact_url(reranker.model_id))
    return RerankInUse(provider, reason, RerankSetup(reranker, top_n=configured.top_n))


@dataclass(frozen=True)
class Services:
    settings: Settings
    embedder: EmbeddingProvider
    embeddings: EmbeddingsInUse
    # The text-generation node: answers with citations (off unless configured).
    generation: GenerationInUse
    # The reranker searches use (off unless configured).
    rerank: RerankInUse
    catalog: DocumentCatalog
    pipeline: IngestPipeline
    jobs: JobQueue
    search: SearchService
    # Cluster results, kept until the collection changes.
    clusters: ClusterCache
    originals: OriginalFiles
    # Reads files in worker processes under a time and a memory limit (ingest.isolation).
    reader: IsolatedReader
    # Files a killed process left half-written, found and cleaned up on opening.
    interrupted: list[DocumentInfo]
    # For what runs beside the routes (compaction and warm-up at start, the CLI's compaction);
    # routes go through the parts above.
    store: VectorStore


@contextmanager
def open_services(
    settings: Settings, *, embedder: EmbeddingProvider | None = None
) -> Iterator[Services]:
    """Open the store, the embeddings provider and what is built on them; close all on exit.

    A caller may hand in an already loaded ``embedder`` (tests share one model across apps);
    it then stays open, since its owner closes it. Either way, with ``EMBEDDINGS_CACHE`` on,
    document vectors go through the vector cache in the data folder (``embeddings.cache``).
    """
    with ExitStack() as stack:
        embedding_settings = settings.embeddings()
        provider_name, reason = resolve_provider(embedding_settings)
        store = open_store(
            data_dir=settings.data_dir,
            qdrant_url=settings.qdrant_url or None,
            qdrant_api_key=settings.qdrant_api_key.get_secret_value() or None,
            collection=settings.collection,
            replication=settings.replication(),
        )
        stack.callback(store.close)
        interrupted = recover_interrupted(store)
        remove_partial_files(store, settings.spool_dir, settings.files_dir)
        backfill_chunk_fields(store)
        if embedder is None:
            embedder = build_provider(embedding_settings)
            stack.callback(embedder.close)
        log.info(
            "embeddings: provider %s (%s), model %s",
            provider_name,
            reason,
            redact_url(embedder.model_id),
        )
        in_use = EmbeddingsInUse(
            provider=provider_name,
            reason=reason,
            prompts=embedding_settings.prompts(),
            cache=settings.embeddings_cache_path if settings.embeddings_cache else None,
        )
        log.info("embeddings: prompts: %s", in_use.prompts.describe())
        if in_use.cache is not None:
            cache = VectorCache(in_use.cache)
            stack.callback(cache.close)
            embedder = with_cache(embedder, cache)
            log.info("embeddings: vector cache %s", cache.path)
        generation = open_generation(settings)
        if generation.client is not None:
            stack.callback(generation.client.close)
        rerank = open_reranker(settings)
        if rerank.setup.reranker is not None:
            stack.callback(rerank.setup.reranker.close)
        guard = CollectionGuard(store, embedder)
        sparse = Bm25Encoder()
        originals = OriginalFiles(settings.files_dir)
        ocr = settings.ocr()
        _log_ocr(ocr)
        reader = IsolatedReader(
            timeout_s=settings.read_timeout_s, memory_mb=settings.read_memory_mb, ocr=ocr
        )
        stack.callback(reader.close)
        pipeline = IngestPipeline(
            store=store,
            embedder=embedder,
            tokenizer=load_default_tokenizer(),
            sparse=sparse,
            chunking=settings.chunking(),
            originals=originals,
            guard=guard,
            max_upload_bytes=settings.max_upload_bytes,
            read=reader.load,
            read_ahead=reader.workers,
        )
        jobs = open_job_queue(settings, pipeline)
        stack.callback(jobs.shutdown)
        if settings.max_queued_mb < settings.max_upload_mb:
            log.warning(
                "SEMSEARCH_MAX_QUEUED_MB (%d) is below SEMSEARCH_MAX_UPLOAD_MB (%d): uploads "
                "between the two are always refused",
                settings.max_queued_mb,
                settings.max_upload_mb,
            )
        yield Services(
            settings=settings,
            embedder=embedder,
            embeddings=in_use,
            generation=generation,
            rerank=rerank,
            catalog=DocumentCatalog(store),
            pipeline=pipeline,
            jobs=jobs,
            search=SearchService(store, embedder, sparse, guard, rerank=rerank.setup),
            clusters=ClusterCache(store),
            originals=originals,
            reader=reader,
            interrupted=interrupted,
            store=store,
        )


def open_job_queue(settings: Settings, pipeline: IngestPipeline) -> JobQueue:
    """Jobs run here, or, with ``SEMSEARCH_REDIS_URL``, queued for ``semsearch worker``."""
    spool = UploadSpool(settings.spool_dir)
    redis_url = settings.redis_url.get_secret_value()
    if not redis_url:
        return JobManager(
            pipeline,
            workers=settings.ingest_workers,
            spool=spool,
            max_queued_files=settings.max_queued_files,
            max_queued_bytes=settings.max_queued_bytes,
        )
    # Imported here: the queue's libraries are needed only with Redis.
    from ingest.job_broker import open_broker
    from ingest.job_records import JobRecords
    from ingest.queue_jobs import QueuedJobs

    log.info("ingestion: by semsearch worker processes, queue %s", redact_url(redis_url))
    return QueuedJobs(
        JobRecords(redis_url, settings.collection),
        open_broker(
            redis_url, settings.collection, heartbeat_timeout_s=settings.worker_heartbeat_s
        ),
        spool,
        max_queued_files=settings.max_queued_files,
        max_queued_bytes=settings.max_queued_bytes,
    )


def _log_ocr(ocr: OcrSettings) -> None:
    """Say at start how scans are read, and when the engine cannot run here, why: such files
    then fail with that reason, and every other file is read as usual."""
    if ocr.mode == "off":
        log.info("ocr: off (SEMSEARCH_OCR=off): scans and images are not read")
        return
    try:
        check_engine(ocr)
    except OcrUnavailableError as error:
        log.error("ocr: unavailable, scans and images will fail: %s", error)
        return
    languages = f", languages {ocr.languages}" if ocr.engine == "tesseract" else ""
    log.info(
        "ocr: %s, engine %s%s, at most %d pages a file",
        ocr.mode,
        ocr.engine,
        languages,
        ocr.max_pages,
    )
