"""Health, the active embeddings, reranker and text-generation configurations (`/settings`) and
their connection checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from embeddings.check import ConnectionReport, RerankReport, check_connection, check_reranker
from embeddings.errors import EmbeddingError
from embeddings.settings import resolve_hf_provider
from generation.check import GenerationReport
from generation.check import check_connection as check_generation
from inference.redact import redact_url
from web.deps import (
    CatalogDep,
    EmbedderDep,
    EmbeddingsInUseDep,
    GenerationDep,
    JobsDep,
    RerankDep,
    SettingsDep,
    caller_has_api_key,
    require_api_key,
)
from web.login import require_csrf
from web.services import EmbeddingsInUse, GenerationInUse, RerankInUse
from web.settings import Settings
from web.templating import templates

api = APIRouter(prefix="/api", tags=["status"])
pages = APIRouter(include_in_schema=False)


class Health(BaseModel):
    """Open to anyone, so that probes need no key; with SEMSEARCH_API_KEY set, a caller without
    the key sees only ``status`` (the other fields are null): nothing about the deployment.
    ``status`` is "degraded" while ingestion is paused on a setting (``ingest.jobs``), and
    ``ingestion_paused`` says why."""

    status: str
    engine: str | None = None
    provider: str | None = None
    model: str | None = None
    documents: int | None = None
    ingestion_paused: str | None = None


class NodeConfig(BaseModel):
    """What every node's configuration shows: the provider and why, the model, the endpoint
    (its password masked), and the token only as set or not."""

    provider: str
    reason: str
    model: str
    endpoint: str
    token: str


class EmbeddingsConfig(NodeConfig):
    """The embeddings configuration as users may see it."""

    dimension: int | None
    prompts: str
    cache: str
    #: Serverless: the Inference Provider asked for (auto or a name) and why.
    hf_provider: str | None = None
    hf_provider_reason: str | None = None
    #: An endpoint's namespace (``EMBEDDINGS_ENDPOINT_NAMESPACE``), when set.
    endpoint_namespace: str | None = None


@api.get("/health", response_model=Health)
def health(
    request: Request,
    settings: SettingsDep,
    catalog: CatalogDep,
    embedder: EmbedderDep,
    jobs: JobsDep,
) -> Health:
    paused = jobs.paused()
    status = "ok" if paused is None else "degraded"
    if not caller_has_api_key(request, settings):
        return Health(status=status)
    return Health(
        status=status,
        engine=catalog.engine,
        provider=embedder.name,
        model=redact_url(embedder.model_id),
        documents=catalog.count_documents(),
        ingestion_paused=paused,
    )


def embeddings_config(
    settings: Settings, in_use: EmbeddingsInUse, dimension: int | None
) -> EmbeddingsConfig:
    configured = settings.embeddings()
    hf_provider = hf_reason = None
    if in_use.provider == "hf-inference":
        try:
            hf_provider, hf_reason = resolve_hf_provider(configured)
        except EmbeddingError as error:
            hf_provider, hf_reason = configured.hf_provider, error.message
    return EmbeddingsConfig(
        hf_provider=hf_provider,
        hf_provider_reason=hf_reason,
        endpoint_namespace=(
            configured.endpoint_namespace or None if in_use.provider == "endpoint" else None
        ),
        provider=in_use.provider,
        reason=in_use.reason,
        model=configured.model,
        endpoint=redact_url(configured.endpoint),
        token=mask(configured.token.get_secret_value()),
        dimension=dimension,
        prompts=in_use.prompts.describe(),
        cache=str(in_use.cache) if in_use.cache is not None else "off",
    )


class RerankConfig(NodeConfig):
    """The reranker's configuration as users may see it."""

    token_setting: str
    top_n: int
    timeout_s: float
    error: str | None


def rerank_config(settings: Settings, in_use: RerankInUse) -> RerankConfig:
    configured = settings.rerank()
    return RerankConfig(
        provider=in_use.provider,
        reason=in_use.reason,
        model=configured.model,
        endpoint=redact_url(configured.endpoint),
        token=mask(configured.token.get_secret_value()),
        token_setting=configured.token_setting,
        top_n=configured.top_n,
        timeout_s=configured.timeout_s,
        error=in_use.setup.error,
    )


def _check_rerank(settings: Settings, in_use: RerankInUse) -> RerankReport:
    return check_reranker(in_use.setup.reranker, settings.rerank(), not_open=in_use.setup.error)


class GenerationConfig(NodeConfig):
    """The text-generation configuration as users may see it."""

    token_setting: str
    max_tokens: int
    temperature: float
    context_tokens: int
    error: str | None


def generation_config(settings: Settings, in_use: GenerationInUse) -> GenerationConfig:
    configured = settings.generation()
    endpoint = in_use.client.url if in_use.client is not None else configured.endpoint
    return GenerationConfig(
        provider=in_use.provider,
        reason=in_use.reason,
        model=configured.model,
        endpoint=redact_url(endpoint),
        token=mask(configured.token.get_secret_value()),
        token_setting=configured.token_setting,
        max_tokens=configured.max_tokens,
        temperature=configured.temperature,
        context_tokens=configured.context_tokens,
        error=in_use.error,
    )


def _check_generation(settings: Settings, in_use: GenerationInUse) -> GenerationReport:
    return check_generation(in_use.client, settings.generation(), not_open=in_use.error)


def mask(secret: str) -> str:
    """'hf_…' and the length only: enough to tell which token is set, never enough to use it."""
    if not secret:
        return "not set"
    return f"{secret[:3]}… ({len(secret)} characters)"


@api.get(
    "/settings/embeddings", response_model=EmbeddingsConfig, dependencies=[Depends(require_api_key)]
)
def get_embeddings_config(
    settings: SettingsDep, in_use: EmbeddingsInUseDep, catalog: CatalogDep
) -> EmbeddingsConfig:
    return embeddings_config(settings, in_use, catalog.stats().dimension)


@api.post(
    "/embeddings/check", response_model=ConnectionReport, dependencies=[Depends(require_api_key)]
)
def embeddings_check(settings: SettingsDep, embedder: EmbedderDep) -> ConnectionReport:
    return check_connection(embedder, settings.embeddings())


@api.get("/settings/rerank", response_model=RerankConfig, dependencies=[Depends(require_api_key)])
def get_rerank_config(settings: SettingsDep, rerank: RerankDep) -> RerankConfig:
    return rerank_config(settings, rerank)


@api.post("/rerank/check", response_model=RerankReport, dependencies=[Depends(require_api_key)])
def rerank_check(settings: SettingsDep, rerank: RerankDep) -> RerankReport:
    return _check_rerank(settings, rerank)


@api.get(
    "/settings/generation", response_model=GenerationConfig, dependencies=[Depends(require_api_key)]
)
def get_generation_config(settings: SettingsDep, generation: GenerationDep) -> GenerationConfig:
    return generation_config(settings, generation)


@api.post(
    "/generation/check", response_model=GenerationReport, dependencies=[Depends(require_api_key)]
)
def generation_check(settings: SettingsDep, generation: GenerationDep) -> GenerationReport:
    return _check_generation(settings, generation)


def settings_context(
    settings: SettingsDep,
    in_use: EmbeddingsInUseDep,
    generation: GenerationDep,
    rerank: RerankDep,
    catalog: CatalogDep,
) -> dict[str, Any]:
    """The settings page's context, before any check. Its statistics come from the store's
    document points, the single source of truth."""
    stats = catalog.stats()
    return {
        "config": embeddings_config(settings, in_use, stats.dimension),
        "generation": generation_config(settings, generation),
        "rerank": rerank_config(settings, rerank),
        "check": None,
        "generation_check": None,
        "rerank_check": None,
        "engine": stats.engine,
        "collection": settings.collection,
        "documents": stats.documents,
        "chunks": stats.chunks,
        "stored_bytes": stats.stored_bytes,
        "pages": stats.pages,
        "types": stats.types,
        "page": "settings",
    }


SettingsPage = Annotated[dict[str, Any], Depends(settings_context)]


@pages.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, context: SettingsPage) -> HTMLResponse:
    return templates.TemplateResponse(request, "settings.html", context)


@pages.post("/settings/check", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def settings_check(
    request: Request, context: SettingsPage, settings: SettingsDep, embedder: EmbedderDep
) -> HTMLResponse:
    context["check"] = check_connection(embedder, settings.embeddings())
    return templates.TemplateResponse(request, "settings.html", context)


@pages.post(
    "/settings/generation-check", response_class=HTMLResponse, dependencies=[Depends(require_csrf)]
)
def settings_generation_check(
    request: Request, context: SettingsPage, settings: SettingsDep, generation: GenerationDep
) -> HTMLResponse:
    context["generation_check"] = _check_generation(settings, generation)
    return templates.TemplateResponse(request, "settings.html", context)


@pages.post(
    "/settings/rerank-check", response_class=HTMLResponse, dependencies=[Depends(require_csrf)]
)
def settings_rerank_check(
    request: Request, context: SettingsPage, settings: SettingsDep, rerank: RerankDep
) -> HTMLResponse:
    context["rerank_check"] = _check_rerank(settings, rerank)
    return templates.TemplateResponse(request, "settings.html", context)
