"""One search, as a typed value: built once at each edge (API, page, CLI), handed whole inward.

``SearchFilters.parse`` is the one place user-typed filters are normalised (tags lower-cased,
metadata checked, extensions mapped to MIME types, dates made instants); a ``SearchRequest``
bounds its own query, ``k`` and ``offset``. The query path (``search.query``) takes the request
as it is, and what comes after it (answers) takes the same object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from search.diversify import DEFAULT_LAMBDA
from search.file_types import file_type_mimes
from search.labels import build_labels
from search.points import chunk_filter
from search.store import DateRange, SearchMode, Where

MAX_K = 100
MAX_OFFSET = 1000
# Longer queries are cut here (the model itself reads at most its max_seq_length tokens).
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class SearchFilters:
    """Which passages a search may find; build it with ``parse`` from what a user typed.

    ``tags``: a document with ANY of them (a tag picks a topic; asking for two widens the
    search, as ticking two boxes does). ``metadata``: ALL pairs, exactly. ``mimes``: ANY of these
    types. ``ingested_after`` (inclusive) and ``ingested_before`` (exclusive): RFC 3339 instants.
    ``ocr_only``: only passages whose text was read by OCR (scans, images).
    """

    doc_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    mimes: tuple[str, ...] = ()
    ingested_after: str | None = None
    ingested_before: str | None = None
    ocr_only: bool = False

    @classmethod
    def parse(
        cls,
        *,
        doc_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, object] | None = None,
        metadata_entries: Iterable[str] = (),
        file_types: Sequence[str] = (),
        ingested_after: date | datetime | None = None,
        ingested_before: date | datetime | None = None,
        ocr_only: bool = False,
    ) -> SearchFilters:
        """Normalised as at upload (``search.labels``): raises ``InvalidLabelsError`` for bad
        tags or metadata and ``InvalidFilterError`` for an unknown file type, before any work.
        A date means its midnight UTC; a naive datetime is taken as UTC."""
        labels = build_labels(tags=tags, metadata_entries=metadata_entries, metadata=metadata)
        return cls(
            doc_id=doc_id or None,
            tags=labels.tags,
            metadata=dict(labels.metadata),
            mimes=tuple(file_type_mimes(file_types)),
            ingested_after=_instant(ingested_after) if ingested_after is not None else None,
            ingested_before=_instant(ingested_before) if ingested_before is not None else None,
            ocr_only=ocr_only,
        )

    def where(self) -> Where:
        """The store filter on chunk points."""
        ingested = None
        if self.ingested_after is not None or self.ingested_before is not None:
            ingested = DateRange(gte=self.ingested_after, lt=self.ingested_before)
        return chunk_filter(
            doc_id=self.doc_id,
            tags=self.tags,
            mimes=self.mimes,
            ingested=ingested,
            metadata=self.metadata,
            ocr_only=self.ocr_only,
        )


@dataclass(frozen=True)
class SearchRequest:
    """A dense, keyword or hybrid search over chunk points, grouped per document by default.

    ``offset`` and ``score_threshold``: see ``search.query``. ``offset`` is held to
    ``MAX_OFFSET``, and no store query reads more than ``search.query.MAX_FETCH`` passages
    (2,000): a deep page of documents, or its ``diversify`` pool, is served from the first
    2,000 passages only, so such a page may come back short or empty (never an error).
    ``diversify`` reorders the hits by MMR (``search.diversify``); ``diversity_lambda`` 1 keeps
    the ranking, 0 only avoids repeats. The query's white space is collapsed and it is cut at
    ``MAX_QUERY_CHARS``; ``k``, ``offset`` and ``diversity_lambda`` are held to their bounds.
    ``rerank``: use the configured reranker (``search.reranking``); False skips it for this
    search, and changes nothing where none is configured.
    """

    query: str
    mode: SearchMode = "hybrid"
    k: int = 10
    offset: int = 0
    group: bool = True
    filters: SearchFilters = field(default_factory=SearchFilters)
    score_threshold: float | None = None
    diversify: bool = False
    diversity_lambda: float = DEFAULT_LAMBDA
    rerank: bool = True

    def __post_init__(self) -> None:
        bounded = {
            "query": " ".join(self.query.split())[:MAX_QUERY_CHARS],
            "k": max(1, min(self.k, MAX_K)),
            "offset": max(0, min(self.offset, MAX_OFFSET)),
            "diversity_lambda": min(1.0, max(0.0, self.diversity_lambda)),
        }
        for name, value in bounded.items():
            object.__setattr__(self, name, value)


def _instant(value: date | datetime) -> str:
    """An RFC 3339 instant: a date means its start (UTC), a naive datetime is taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
