"""Clusters: `GET /api/clusters?k=auto` and the `/clusters` page with its 2-D map."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from search.catalog import list_documents
from search.clustering import cluster_documents
from search.results import ClusterResponse
from web.deps import ServicesDep, require_api_key
from web.templating import templates

api = APIRouter(prefix="/api", tags=["clusters"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)

K_PATTERN = r"^(auto|[1-9][0-9]?)$"


def _k(value: str) -> int | None:
    return None if value == "auto" else int(value)


@api.get("/clusters", response_model=ClusterResponse)
def clusters(
    services: ServicesDep,
    k: str = Query("auto", pattern=K_PATTERN, description="'auto' or a number of clusters (1-99)"),
) -> ClusterResponse:
    return cluster_documents(services.store, _k(k))


@pages.get("/clusters", response_class=HTMLResponse)
def clusters_page(
    request: Request, services: ServicesDep, k: str = Query("auto", pattern=K_PATTERN)
) -> HTMLResponse:
    result = cluster_documents(services.store, _k(k))
    names = {d.doc_id: d.title or d.filename for d in list_documents(services.store)}
    return templates.TemplateResponse(
        request,
        "clusters.html",
        {"result": result, "k": k, "names": names, "page": "clusters"},
    )
