"""Search: `GET|POST /api/search` and the page `/` (a plain GET form, no JavaScript needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from search.results import SearchResponse
from search.store import SearchMode
from web.deps import ServicesDep, require_api_key
from web.templating import templates

api = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)


class SearchRequest(BaseModel):
    q: str = Field("", max_length=10_000, description="The query; blank gives no results")
    k: int = Field(10, ge=1, le=100, description="How many hits")
    mode: SearchMode = "hybrid"
    group: bool = Field(True, description="One hit per document, its next passages under `more`")
    doc_id: str | None = Field(None, description="Search only this document")


@api.get("/search", response_model=SearchResponse)
def search_get(services: ServicesDep, params: Annotated[SearchRequest, Query()]) -> SearchResponse:
    return _run(services, params)


@api.post("/search", response_model=SearchResponse)
def search_post(services: ServicesDep, body: SearchRequest) -> SearchResponse:
    return _run(services, body)


def _run(services: ServicesDep, request: SearchRequest) -> SearchResponse:
    return services.search.search(
        request.q, k=request.k, mode=request.mode, group=request.group, doc_id=request.doc_id
    )


@pages.get("/", response_class=HTMLResponse)
def search_page(
    request: Request, services: ServicesDep, params: Annotated[SearchRequest, Query()]
) -> HTMLResponse:
    response = _run(services, params) if params.q.strip() else None
    return templates.TemplateResponse(
        request, "search.html", {"params": params, "response": response, "page": "search"}
    )
