"""Clusters: `GET /api/clusters?k=auto&level=document` and the `/clusters` page with its map.

Results come from the services' cluster cache, kept until the collection changes.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from search.clustering import Level
from search.results import ClusterResponse
from web.deps import CatalogDep, ClustersDep, require_api_key
from web.templating import templates

api = APIRouter(prefix="/api", tags=["clusters"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)

K_PATTERN = r"^(auto|[1-9][0-9]?)$"
LEVEL_HELP = "'document' clusters documents; 'chunk' clusters passages (for a few long documents)"


def _k(value: str) -> int | None:
    return None if value == "auto" else int(value)


@api.get("/clusters", response_model=ClusterResponse)
def clusters(
    cache: ClustersDep,
    k: str = Query("auto", pattern=K_PATTERN, description="'auto' or a number of clusters (1-99)"),
    level: Level = Query("document", description=LEVEL_HELP),
) -> ClusterResponse:
    return cache.clusters(_k(k), level=level)


@pages.get("/clusters", response_class=HTMLResponse)
def clusters_page(
    request: Request,
    cache: ClustersDep,
    catalog: CatalogDep,
    k: str = Query("auto", pattern=K_PATTERN),
    level: Level = Query("document"),
) -> HTMLResponse:
    result = cache.clusters(_k(k), level=level)
    names = {d.doc_id: d.title or d.filename for d in catalog.documents()}
    return templates.TemplateResponse(
        request,
        "clusters.html",
        {"result": result, "k": k, "level": level, "names": names, "page": "clusters"},
    )
