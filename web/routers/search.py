"""Search: `GET|POST /api/search` and the page `/` (a plain GET form, no JavaScript needed).

Filters: ``tags`` keeps documents with ANY of the tags; metadata keeps documents whose
metadata holds ALL the pairs (``SearchService.search`` says why); ``file_type`` ANY of the
types; ``ingested_after``/``ingested_before`` a date range. ``offset`` pages (documents when
grouped, passages when not); ``score_threshold`` is on the mode's scale (``search.query``).

"More like this": `GET /api/search/similar?point=` (a hit's ``point_id``) and the page
`/similar?point=`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator

from search.diversify import DEFAULT_LAMBDA
from search.errors import DocumentNotFoundError, InvalidFilterError, InvalidLabelsError
from search.file_types import IMAGE_MIMES, file_type_mimes
from search.request import MAX_OFFSET, SearchFilters, SearchRequest
from search.results import SearchResponse
from search.store import SearchMode
from web.answering import SOURCE_DOCUMENTS, PageAnswer, answer_for_page
from web.deps import CatalogDep, GenerationDep, SearchDep, require_api_key
from web.errors import JSON_BODY_ERROR_RESPONSES
from web.same_origin import navigated_from_another_site
from web.templating import templates

api = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)

TAGS_HELP = (
    "Only documents with ANY of these tags (case does not matter; an entry may hold several, "
    "comma-separated)"
)
#: The `/` page's file-type boxes: (MIME types sent, comma-separated; label).
FILE_TYPE_CHOICES = (
    *(
        (file_type_mimes([extension])[0], label)
        for extension, label in (
            ("pdf", "PDF"),
            ("txt", "Text"),
            ("md", "Markdown"),
            ("html", "HTML"),
            ("docx", "Word"),
            ("csv", "CSV"),
        )
    ),
    (",".join(sorted(IMAGE_MIMES)), "Image"),
)
#: Shown instead of an answer when a link from another site asked for one (``ask=1``).
ASK_FROM_ELSEWHERE = (
    "This link asks for an answer: press Ask to get one (a link from another site does not "
    "call the model on your behalf)."
)
THRESHOLD_HELP = (
    "Drop hits scoring below this, on the mode's scale: dense cosine (-1..1), keyword BM25 "
    "(0 up), hybrid 0.6·cosine + 0.4·BM25/best BM25 (at most 1)"
)


# Bounds that keep a GET search inside the HTTP server's request-head limit
# (web.guard.MAX_REQUEST_HEAD_BYTES), even all percent-encoded 4-byte characters (12 bytes
# each): found by the OpenAPI fuzz, which sent GET URLs longer than uvicorn's default takes
# and got a bare 400 and a reset connection instead of a JSON answer.
MAX_QUERY_PARAM_CHARS = 100_000
MAX_FILTER_VALUES = 20
Tag = Annotated[str, StringConstraints(max_length=1100)]  # one entry: up to 20 tags, commas
FileType = Annotated[str, StringConstraints(max_length=100)]
MetaPair = Annotated[str, StringConstraints(max_length=300)]  # key (40) = value (200)


class SearchParams(BaseModel):
    q: str = Field(
        "",
        max_length=MAX_QUERY_PARAM_CHARS,
        description="The query; blank gives no results; cut at 2000 chars",
    )
    k: int = Field(10, ge=1, le=100, description="How many hits")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET, description="Skip this many documents (passages when not grouped)"
    )
    mode: SearchMode = "hybrid"
    group: bool = Field(True, description="One hit per document, its next passages under `more`")
    score_threshold: float | None = Field(None, description=THRESHOLD_HELP)
    diversify: bool = Field(
        False, description="Reorder by maximal marginal relevance, so near-duplicates spread out"
    )
    diversity_lambda: float = Field(
        DEFAULT_LAMBDA, ge=0, le=1, description="MMR: 1 keeps the ranking, 0 only avoids repeats"
    )
    rerank: bool = Field(
        True,
        description="Rerank the first passages with the configured reranker (RERANK_PROVIDER); "
        "false skips it for this search",
    )
    doc_id: str | None = Field(None, max_length=200, description="Search only this document")
    tags: list[Tag] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES, description=TAGS_HELP
    )
    file_type: list[FileType] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="Only documents of ANY of these types: a MIME type or an extension (`pdf`)",
    )
    ocr: bool = Field(False, description="Only passages whose text was read by OCR (scans, images)")
    ingested_after: datetime | None = Field(
        None, description="Only documents ingested at or after this (ISO date: midnight UTC)"
    )
    ingested_before: datetime | None = Field(
        None, description="Only documents ingested before this (ISO date: midnight UTC)"
    )

    @field_validator("ingested_after", "ingested_before", "score_threshold", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """The `/` form sends an empty date box as `ingested_after=`: that means no filter."""
        return None if isinstance(value, str) and not value.strip() else value

    def to_request(
        self, metadata: Mapping[str, object], entries: Sequence[str] = ()
    ) -> SearchRequest:
        """The one ``SearchRequest`` of this call: filters are normalised here, once (a bad
        tag, metadata pair or file type raises its domain error, a 422)."""
        filters = SearchFilters.parse(
            doc_id=self.doc_id,
            tags=self.tags,
            metadata=metadata,
            metadata_entries=entries,
            file_types=self.file_type,
            ingested_after=self.ingested_after,
            ingested_before=self.ingested_before,
            ocr_only=self.ocr,
        )
        return SearchRequest(
            self.q,
            mode=self.mode,
            k=self.k,
            offset=self.offset,
            group=self.group,
            filters=filters,
            score_threshold=self.score_threshold,
            diversify=self.diversify,
            diversity_lambda=self.diversity_lambda,
            rerank=self.rerank,
        )


class MetaEntries(BaseModel):
    """Metadata filters as `key=value` entries, the way a query string or a form sends them."""

    meta: list[MetaPair] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="A metadata filter `key=value`, repeatable: ALL must match, exactly",
    )

    @field_validator("meta")
    @classmethod
    def _drop_blank_pairs(cls, value: list[str]) -> list[str]:
        """The `/` form always sends one metadata box, usually empty."""
        return [pair for pair in value if pair.strip()]


class SearchQuery(MetaEntries, SearchParams):
    """`GET /api/search`: repeat `tags=` and `meta=` for several."""


class SearchBody(SearchParams):
    """`POST /api/search`, a JSON body."""

    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="Only documents whose metadata holds ALL these key/value pairs, exactly",
    )


@api.get("/search", response_model=SearchResponse)
def search_get(search: SearchDep, params: Annotated[SearchQuery, Query()]) -> Response:
    return _as_json(search.search(params.to_request({}, params.meta)))


@api.post("/search", response_model=SearchResponse, responses=JSON_BODY_ERROR_RESPONSES)
def search_post(search: SearchDep, body: SearchBody) -> Response:
    return _as_json(search.search(body.to_request(body.metadata)))


def _as_json(result: SearchResponse) -> Response:
    """The response serialised by pydantic itself. Returned as a model, FastAPI would validate
    it again and walk it through ``jsonable_encoder`` first: about half a millisecond of a search
    that takes 20 (docs/benchmarks.md, "Search latency"). ``response_model`` still documents
    the shape."""
    return Response(result.model_dump_json(), media_type="application/json")


class SimilarQuery(BaseModel):
    point: str = Field(description="A hit's `point_id`")
    k: int = Field(10, ge=1, le=100, description="How many hits")
    group: bool = Field(True, description="One hit per document")
    same_document: bool = Field(False, description="Include the passage's own document")


@api.get("/search/similar", response_model=SearchResponse)
def similar_passages(search: SearchDep, params: Annotated[SimilarQuery, Query()]) -> Response:
    """Passages like a stored one (its stored vector; nothing is embedded), per document."""
    return _as_json(
        search.similar_passages(
            params.point, k=params.k, group=params.group, same_document=params.same_document
        )
    )


@pages.get("/", response_class=HTMLResponse)
def search_page(
    request: Request,
    search: SearchDep,
    catalog: CatalogDep,
    generation: GenerationDep,
    params: Annotated[SearchQuery, Query()],
    ask: Annotated[bool, Query(description="Also answer the query from the documents")] = False,
) -> HTMLResponse:
    """The tag filter is one comma-separated box; it stays in the URL (``tags=``) like ``q``.
    Bad filters are shown on the page, above the form that holds them. With ``ask=1`` (the
    "Ask" button without JavaScript) the whole answer is rendered above the results; the
    page's script streams it from ``/api/answer`` instead (``static/answer.js``). A link from
    another site with ``ask=1`` gets the page and a note, not a model call on the user's
    account."""
    response, error, chosen_types, answer = None, None, list(params.file_type), None
    try:
        search_request = params.to_request({}, params.meta)
        chosen_types = list(search_request.filters.mimes)
        if params.q.strip():
            response = search.search(search_request)
            if ask and navigated_from_another_site(request.headers):
                answer = PageAnswer(notice=ASK_FROM_ELSEWHERE)
            elif ask:
                asked = replace(search_request, k=SOURCE_DOCUMENTS)
                answer = answer_for_page(search, generation, asked)
    except (InvalidLabelsError, InvalidFilterError) as problem:
        error = problem.message
    context: dict[str, object] = {
        "params": params,
        "response": response,
        "error": error,
        "answer": answer,
        "page": "search",
        "pages": _page_links(params, len(response.results)) if response else {},
        "file_types": FILE_TYPE_CHOICES,
        "chosen_types": chosen_types,
        "indexed": None if response else catalog.count_documents(),
    }
    status = 422 if error else answer.status if answer else 200
    return templates.TemplateResponse(request, "search.html", context, status_code=status)


def _page_links(params: SearchQuery, shown: int) -> dict[str, str]:
    """`/` URLs of the previous and next pages, keeping every other parameter. A next page is
    offered when this one is full (the last page may then turn out empty)."""
    links: dict[str, str] = {}
    if params.offset > 0:
        links["previous"] = _page_url(params, max(0, params.offset - params.k))
    if shown >= params.k and params.offset + params.k <= MAX_OFFSET:
        links["next"] = _page_url(params, params.offset + params.k)
    return links


def _page_url(params: SearchQuery, offset: int) -> str:
    query = params.model_dump(mode="json", exclude_defaults=True)
    query["offset"] = offset
    if not offset:
        del query["offset"]
    return "/?" + urlencode(query, doseq=True)


@pages.get("/similar", response_class=HTMLResponse)
def similar_page(
    request: Request, search: SearchDep, params: Annotated[SimilarQuery, Query()]
) -> HTMLResponse:
    """ "More like this" for a hit of `/`: the search page, showing passages like that one."""
    response, error, status = None, None, 200
    try:
        response = search.similar_passages(params.point, k=params.k, group=params.group)
    except DocumentNotFoundError as problem:
        error, status = problem.message, 404
    context = {
        "params": SearchQuery(),
        "chosen_types": [],
        "response": response,
        "error": error,
        "similar": True,
        "page": "search",
    }
    return templates.TemplateResponse(request, "search.html", context, status_code=status)
