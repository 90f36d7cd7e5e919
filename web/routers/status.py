"""Health, the active embeddings configuration (`/settings`) and its connection check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from embeddings.check import ConnectionReport, check_connection
from embeddings.prompts import resolve_prompts
from embeddings.settings import resolve_provider
from web.deps import ServicesDep, require_api_key
from web.services import Services
from web.templating import templates

api = APIRouter(prefix="/api", tags=["status"])
pages = APIRouter(include_in_schema=False)


class Health(BaseModel):
    status: str
    engine: str
    provider: str
    model: str
    documents: int


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
def health(services: ServicesDep) -> Health:
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
    return {
        "config": embeddings_config(services),
        "engine": services.store.engine,
        "collection": services.settings.collection,
        "documents": services.store.count({"kind": "document"}),
        "chunks": services.store.count({"kind": "chunk"}),
        "page": "settings",
    }


@pages.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "settings.html", {**_settings_context(services), "check": None}
    )


@pages.post("/settings/check", response_class=HTMLResponse)
def settings_check(request: Request, services: ServicesDep) -> HTMLResponse:
    report = check_connection(services.embedder, services.settings.embeddings())
    return templates.TemplateResponse(
        request, "settings.html", {**_settings_context(services), "check": report}
    )
