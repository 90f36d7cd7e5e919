"""The long-lived parts of the application, opened once and closed once.

The web app opens them in its lifespan; each CLI command opens them for its own run. Both go
through `open_services`, so a server and a CLI command are wired identically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from embeddings.base import EmbeddingProvider
from embeddings.cache import VectorCache, with_cache
from embeddings.factory import build_provider
from embeddings.prompts import resolve_prompts
from embeddings.settings import resolve_provider
from ingest.backfill import backfill_chunk_fields
from ingest.chunking import load_default_tokenizer
from ingest.jobs import JobManager
from ingest.originals import OriginalFiles
from ingest.pipeline import IngestPipeline
from ingest.recovery import recover_interrupted
from ingest.spool import UploadSpool
from search.cluster_cache import ClusterCache
from search.collection import CollectionGuard
from search.factory import open_store
from search.query import SearchService
from search.results import DocumentInfo
from search.sparse import Bm25Encoder
from search.store import VectorStore
from web.settings import Settings

log = logging.getLogger("semsearch")


@dataclass
class Services:
    settings: Settings
    store: VectorStore
    embedder: EmbeddingProvider
    provider_reason: str
    originals: OriginalFiles
    pipeline: IngestPipeline
    jobs: JobManager
    search: SearchService
    # Files a killed process left half-written, found and cleaned up on opening.
    interrupted: list[DocumentInfo]
    # Cluster results, kept until the collection changes.
    clusters: ClusterCache


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
        )
        stack.callback(store.close)
        interrupted = recover_interrupted(store)
        backfill_chunk_fields(store)
        if embedder is None:
            embedder = build_provider(embedding_settings)
            stack.callback(embedder.close)
        log.info("embeddings: provider %s (%s), model %s", provider_name, reason, embedder.model_id)
        prompts = resolve_prompts(
            embedding_settings.model,
            embedding_settings.query_prompt,
            embedding_settings.document_prompt,
        )
        log.info("embeddings: prompts: %s", prompts.describe())
        if settings.embeddings_cache:
            cache = VectorCache(settings.embeddings_cache_path)
            stack.callback(cache.close)
            embedder = with_cache(embedder, cache)
            log.info("embeddings: vector cache %s", cache.path)
        guard = CollectionGuard(store, embedder)
        sparse = Bm25Encoder()
        originals = OriginalFiles(settings.files_dir)
        pipeline = IngestPipeline(
            store=store,
            embedder=embedder,
            tokenizer=load_default_tokenizer(),
            sparse=sparse,
            chunking=settings.chunking(),
            originals=originals,
            guard=guard,
            max_upload_bytes=settings.max_upload_bytes,
        )
        jobs = JobManager(
            pipeline, workers=settings.ingest_workers, spool=UploadSpool(settings.spool_dir)
        )
        stack.callback(jobs.shutdown)
        yield Services(
            settings=settings,
            store=store,
            embedder=embedder,
            provider_reason=reason,
            originals=originals,
            pipeline=pipeline,
            jobs=jobs,
            search=SearchService(store, embedder, sparse, guard),
            interrupted=interrupted,
            clusters=ClusterCache(),
        )
