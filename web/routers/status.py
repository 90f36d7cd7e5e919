"""Health, the active embeddings configuration (`/settings`) and its connection check."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from embeddings.check import ConnectionReport, check_connection
from embeddings.prompts import resolve_prompts
from embeddings.settings import resolve_provider
from search.catalog import list_documents
from web.deps import ServicesDep, caller_has_api_key, require_api_key
from web.login import require_csrf
from web.services import Services
from web.templating import templates

api = APIRouter(prefix="/api", tags=["status"])
pages = APIRouter(include_in_schema=False)


class Health(BaseModel):
    """Open to anyone, so that probes need no key; with SEMSEARCH_API_KEY set, a caller without
    the key sees only ``status`` (the other fields are null): nothing about the deployment."""

    status: str
    engine: str | None = None
    provider: str | None = None
    model: str | None = None
    documents: int | None = None


class EmbeddingsConfig(BaseModel):
    """The embeddings configuration as users may see it: the token only as set or not."""

    provider: str
    reason: str
    model: str
    endpoint: str
    token: str
    dimension: int | None
    prompts: str
    cache: str


@api.get("/health", response_model=Health)
def health(request: Request, services: ServicesDep) -> Health:
    if not caller_has_api_key(request, services):
        return Health(status="ok")
    return Health(
        status="ok",
        engine=services.store.engine,
        provider=services.embedder.name,
        model=services.embedder.model_id,
        documents=services.store.count({"kind": "document"}),
    )


def embeddings_config(services: Services) -> EmbeddingsConfig:
    settings = services.settings.embeddings()
    provider, reason = resolve_provider(settings)
    info = services.store.collection_info()
    return EmbeddingsConfig(
        provider=provider,
        reason=reason,
        model=settings.model,
        endpoint=settings.endpoint,
        token=mask(settings.token.get_secret_value()),
        dimension=info.dimension if info else None,
        prompts=resolve_prompts(
            settings.model, settings.query_prompt, settings.document_prompt
        ).describe(),
        cache=str(services.settings.embeddings_cache_path)
        if services.settings.embeddings_cache
        else "off",
    )


def mask(secret: str) -> str:
    """'hf_…' and the length only: enough to tell which token is set, never enough to use it."""
    if not secret:
        return "not set"
    return f"{secret[:3]}… ({len(secret)} characters)"


@api.get(
    "/settings/embeddings", response_model=EmbeddingsConfig, dependencies=[Depends(require_api_key)]
)
def get_embeddings_config(services: ServicesDep) -> EmbeddingsConfig:
    return embeddings_config(services)


@api.post(
    "/embeddings/check", response_model=ConnectionReport, dependencies=[Depends(require_api_key)]
)
def embeddings_check(services: ServicesDep) -> ConnectionReport:
    return check_connection(services.embedder, services.settings.embeddings())


def _settings_context(services: Services) -> dict[str, Any]:
    """The page's statistics come from the store's document points, the single source of truth."""
    stored = list_documents(services.store)
    types = Counter(d.mime or "unknown" for d in stored)
    return {
        "config": embeddings_config(services),
        "engine": services.store.engine,
        "collection": services.settings.collection,
        "documents": services.store.count({"kind": "document"}),
        "chunks": services.store.count({"kind": "chunk"}),
        "stored_bytes": sum(d.bytes for d in stored),
        "pages": sum(d.pages for d in stored),
        "types": types.most_common(),
        "page": "settings",
    }


@pages.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "settings.html", {**_settings_context(services), "check": None}
    )


@pages.post("/settings/check", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def settings_check(request: Request, services: ServicesDep) -> HTMLResponse:
    report = check_connection(services.embedder, services.settings.embeddings())
    return templates.TemplateResponse(
        request, "settings.html", {**_settings_context(services), "check": report}
    )
