"""Search: `GET|POST /api/search` and the page `/` (a plain GET form, no JavaScript needed).

Filters: ``tags`` keeps documents with ANY of the tags; metadata keeps documents whose
metadata holds ALL the pairs (``SearchService.search`` says why).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ingest.errors import InvalidLabelsError
from ingest.labels import parse_metadata
from search.results import SearchResponse
from search.store import SearchMode
from web.deps import ServicesDep, require_api_key
from web.templating import templates

api = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)

TAGS_HELP = (
    "Only documents with ANY of these tags (case does not matter; an entry may hold several, "
    "comma-separated)"
)


class SearchParams(BaseModel):
    q: str = Field("", max_length=10_000, description="The query; blank gives no results")
    k: int = Field(10, ge=1, le=100, description="How many hits")
    mode: SearchMode = "hybrid"
    group: bool = Field(True, description="One hit per document, its next passages under `more`")
    doc_id: str | None = Field(None, description="Search only this document")
    tags: list[str] = Field(default_factory=list, description=TAGS_HELP)


class SearchQuery(SearchParams):
    """`GET /api/search`: repeat `tags=` and `meta=` for several."""

    meta: list[str] = Field(
        default_factory=list,
        description="A metadata filter `key=value`, repeatable: ALL must match, exactly",
    )


class SearchRequest(SearchParams):
    """`POST /api/search`, a JSON body."""

    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="Only documents whose metadata holds ALL these key/value pairs, exactly",
    )


@api.get("/search", response_model=SearchResponse)
def search_get(services: ServicesDep, params: Annotated[SearchQuery, Query()]) -> SearchResponse:
    return _run(services, params, parse_metadata(params.meta))


@api.post("/search", response_model=SearchResponse)
def search_post(services: ServicesDep, body: SearchRequest) -> SearchResponse:
    return _run(services, body, body.metadata)


def _run(services: ServicesDep, request: SearchParams, metadata: dict[str, str]) -> SearchResponse:
    return services.search.search(
        request.q,
        k=request.k,
        mode=request.mode,
        group=request.group,
        doc_id=request.doc_id,
        tags=request.tags,
        metadata=metadata,
    )


@pages.get("/", response_class=HTMLResponse)
def search_page(
    request: Request, services: ServicesDep, params: Annotated[SearchQuery, Query()]
) -> HTMLResponse:
    """The tag filter is one comma-separated box; it stays in the URL (``tags=``) like ``q``."""
    response, error = None, None
    try:
        if params.q.strip():
            response = _run(services, params, parse_metadata(params.meta))
    except InvalidLabelsError as problem:
        error = problem.message
    context = {"params": params, "response": response, "error": error, "page": "search"}
    return templates.TemplateResponse(
        request, "search.html", context, status_code=422 if error else 200
    )
