"""What the routers depend on: each route asks for the one part it uses, and the API key.

The parts are opened once in the lifespan (``web.services``); these functions only hand them
out, so a route's signature says exactly what it touches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from embeddings.base import EmbeddingProvider
from ingest.isolation import IsolatedReader
from ingest.jobs import JobQueue
from ingest.originals import OriginalFiles
from ingest.pipeline import IngestPipeline
from search.catalog import DocumentCatalog
from search.cluster_cache import ClusterCache
from search.query import SearchService
from web.guard import API_KEY_MESSAGE, has_api_key
from web.login_throttle import LoginThrottle
from web.services import EmbeddingsInUse, GenerationInUse, RerankInUse, Services
from web.settings import Settings


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    return _services(request).settings


def get_search(request: Request) -> SearchService:
    return _services(request).search


def get_catalog(request: Request) -> DocumentCatalog:
    return _services(request).catalog


def get_pipeline(request: Request) -> IngestPipeline:
    return _services(request).pipeline


def get_jobs(request: Request) -> JobQueue:
    return _services(request).jobs


def get_clusters(request: Request) -> ClusterCache:
    return _services(request).clusters


def get_originals(request: Request) -> OriginalFiles:
    return _services(request).originals


def get_reader(request: Request) -> IsolatedReader:
    return _services(request).reader


def get_embedder(request: Request) -> EmbeddingProvider:
    return _services(request).embedder


def get_embeddings_in_use(request: Request) -> EmbeddingsInUse:
    return _services(request).embeddings


def get_generation(request: Request) -> GenerationInUse:
    return _services(request).generation


def get_rerank(request: Request) -> RerankInUse:
    return _services(request).rerank


def get_login_throttle(request: Request) -> LoginThrottle:
    """The app's own (``web.app``): login attempts are the pages' concern, not the services'."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearchDep = Annotated[SearchService, Depends(get_search)]
CatalogDep = Annotated[DocumentCatalog, Depends(get_catalog)]
PipelineDep = Annotated[IngestPipeline, Depends(get_pipeline)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
ClustersDep = Annotated[ClusterCache, Depends(get_clusters)]
OriginalsDep = Annotated[OriginalFiles, Depends(get_originals)]
ReaderDep = Annotated[IsolatedReader, Depends(get_reader)]
EmbedderDep = Annotated[EmbeddingProvider, Depends(get_embedder)]
EmbeddingsInUseDep = Annotated[EmbeddingsInUse, Depends(get_embeddings_in_use)]
GenerationDep = Annotated[GenerationInUse, Depends(get_generation)]
RerankDep = Annotated[RerankInUse, Depends(get_rerank)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]

# Declares the scheme in the OpenAPI document (the "Authorize" button of /docs); the check is ours.
_bearer = HTTPBearer(auto_error=False, description="SEMSEARCH_API_KEY, when the server sets one")


def caller_has_api_key(request: Request, settings: SettingsDep) -> bool:
    """True when no SEMSEARCH_API_KEY is set, or the request carries it."""
    return has_api_key(request.headers, settings.api_key.get_secret_value())


def require_api_key(
    request: Request, settings: SettingsDep, _: Annotated[object, Depends(_bearer)] = None
) -> None:
    """When SEMSEARCH_API_KEY is set, every /api route asks for ``Authorization: Bearer <key>``.

    ``web.guard.RequestGuard`` already refuses such requests before their body is read; this
    second check keeps a route safe if it is ever mounted without the guard, and documents the
    scheme in the OpenAPI document."""
    if not caller_has_api_key(request, settings):
        raise HTTPException(
            status_code=401, detail=API_KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
        )
