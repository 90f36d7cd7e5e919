"""The stored-point schema: the one module that knows what a point's payload holds.

A collection holds points of three kinds (payload ``kind``):

- ``chunk``: one passage, with a dense and a BM25 vector, its text and place (page, offsets,
  heading) and its document's fields (id, name, title, type, ingestion time, labels), so that a
  search filters passages without a join;
- ``document``: one per file, the normalised, token-weighted mean of its chunk vectors and what
  the document list shows (pages, chunks, bytes, status and error, the chunking it was cut with);
- ``collection``: one vectorless point recording the embedding model and dimension that filled
  the collection, the revision token, and what was done to it once (compaction, backfills).

Every writer builds points here (``chunk_point``, ``document_point``, ``collection_point``) and
every reader reads them here (``read_point``, ``document_info``, ``collection_info_of``); a filter
on a field is built here too (``chunk_filter``, ``chunks_of``...). Adding a payload field is one
change in this module (its key, its builder argument and its reader field), plus the one call in
``ingest.stages`` that passes its value.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search.results import DocumentInfo
from search.store import (
    CollectionInfo,
    DateRange,
    PointRecord,
    SparseVector,
    StoredPoint,
    Where,
    WhereValue,
)

KIND = "kind"
CHUNK = "chunk"
DOCUMENT = "document"
COLLECTION = "collection"

# Fields every point of a document carries.
DOC_ID = "doc_id"
FILENAME = "filename"
TITLE = "title"
MIME = "mime"
INGESTED_AT = "ingested_at"
TAGS = "tags"
META = "meta"
# Chunk fields.
CHUNK_INDEX = "chunk_index"
TEXT = "text"
PAGE = "page"
START = "start"
END = "end"
HEADING = "heading"
#: "ocr" on a chunk whose text was read by OCR; absent otherwise (and on older chunks). A
#: string, not a boolean: Qdrant Edge 0.9 cannot match booleans (``search.edge_types``).
TEXT_FROM = "text_from"
FROM_OCR = "ocr"
# Document fields.
PAGES = "pages"
CHUNKS = "chunks"
BYTES = "bytes"
STATUS = "status"
ERROR = "error"
CHUNKING = "chunking"
# Collection fields.
MODEL = "model"
DIMENSION = "dimension"
REVISION = "revision"
COMPACTION = "compaction"
#: Set once the chunks of older versions were given ``CHUNK_FILTER_FIELDS`` (``ingest.backfill``).
BACKFILLED = "chunk_filter_fields"

#: Chunk fields copied from the document point, which older versions did not write.
CHUNK_FILTER_FIELDS = (MIME, INGESTED_AT)

# Keyword payload indexes. A keyword index also indexes every string of a list field (``tags``).
# Collections created before a field was added get its index when next opened; filters on a
# field without an index still match, only slower.
KEYWORD_INDEXES = (DOC_ID, KIND, FILENAME, TAGS, MIME, TEXT_FROM)
# Datetime payload indexes (ISO 8601 / RFC 3339 strings), for ``DateRange`` filters.
DATETIME_INDEXES = (INGESTED_AT,)

_NAMESPACE = uuid.UUID("6f0d1a53-8a5e-4c57-9d6a-2f1b8c7e4a10")
COLLECTION_POINT_ID = str(uuid.uuid5(_NAMESPACE, "collection"))

CHUNKS_ONLY: Where = {KIND: CHUNK}
DOCUMENTS_ONLY: Where = {KIND: DOCUMENT}


def chunk_point_id(doc_id: str, chunk_index: int) -> str:
    """Deterministic id: the same file ingested twice gives the same points."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc_id}:{chunk_index}"))


def document_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{doc_id}:document"))


# -- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentFields:
    """What every point of one document carries: its chunks repeat it for filters."""

    doc_id: str
    filename: str
    title: str
    mime: str
    ingested_at: str
    tags: Sequence[str] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            DOC_ID: self.doc_id,
            FILENAME: self.filename,
            TITLE: self.title,
            MIME: self.mime,  # for file-type filters on passages
            INGESTED_AT: self.ingested_at,  # for date-range filters
            **label_fields(self.tags, self.metadata),
        }


def label_fields(tags: Sequence[str], metadata: Mapping[str, str]) -> dict[str, Any]:
    """The payload fields of a document's labels, on each of its points."""
    return {TAGS: list(tags), META: dict(metadata)}


def chunk_point(
    owner: DocumentFields,
    *,
    index: int,
    text: str,
    page: int,
    start: int,
    end: int,
    heading: str | None,
    dense: list[float] | None,
    sparse: SparseVector | None,
    ocr: bool = False,
) -> StoredPoint:
    return StoredPoint(
        id=chunk_point_id(owner.doc_id, index),
        dense=dense,
        sparse=sparse,
        payload={
            **owner.payload(),
            KIND: CHUNK,
            CHUNK_INDEX: index,
            TEXT: text,
            PAGE: page,
            START: start,
            END: end,
            HEADING: heading,
            **({TEXT_FROM: FROM_OCR} if ocr else {}),
        },
    )


def document_point(
    owner: DocumentFields,
    *,
    pages: int,
    chunks: int,
    size: int,
    dense: list[float] | None,
    chunking: Mapping[str, int],
) -> StoredPoint:
    """The document point as it is once every chunk is written (status "done")."""
    return StoredPoint(
        id=document_point_id(owner.doc_id),
        dense=dense,
        payload={
            **owner.payload(),
            KIND: DOCUMENT,
            PAGES: pages,
            CHUNKS: chunks,
            BYTES: size,
            STATUS: "done",
            ERROR: None,
            CHUNKING: dict(chunking),
        },
    )


def chunking_record(chunk_tokens: int, overlap_tokens: int) -> dict[str, int]:
    """The chunk size and overlap a document was cut with, kept on its document point;
    ``titled``: its passages were embedded after its title line (``ingest.chunking``);
    ``running_lines_removed``: its pages' running headers and footers were taken out
    (``ingest.page_furniture``). The same bytes ingested again under another record are
    chunked and embedded again."""
    return {
        "tokens": chunk_tokens,
        "overlap": overlap_tokens,
        "titled": 1,
        "running_lines_removed": 1,
    }


def processing_marker(document: StoredPoint) -> StoredPoint:
    """The document point written before its chunks: a crash leaves it "processing"."""
    return StoredPoint(id=document.id, payload={**document.payload, STATUS: "processing"})


def failed_document(record: PointRecord, error: str) -> StoredPoint:
    """A document point marked failed, with no chunks (its chunks are removed with it)."""
    payload = {**record.payload, STATUS: "failed", ERROR: error, CHUNKS: 0}
    return StoredPoint(id=record.id, payload=payload)


def collection_point(info: CollectionInfo, compaction: str | None = None) -> StoredPoint:
    """The vectorless point recording the model and dimension that fill the collection, and
    what ``compaction`` its shard was made for (``search.edge_shard``)."""
    payload: dict[str, Any] = {KIND: COLLECTION, MODEL: info.model, DIMENSION: info.dimension}
    if compaction:
        payload[COMPACTION] = compaction
    return StoredPoint(id=COLLECTION_POINT_ID, payload=payload)


def with_revision(collection: PointRecord, revision: str) -> StoredPoint:
    return StoredPoint(id=COLLECTION_POINT_ID, payload={**collection.payload, REVISION: revision})


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointFields:
    """A chunk or document point as the query side reads it (chunk fields are 0/"" on a
    document point)."""

    doc_id: str
    filename: str
    title: str
    tags: list[str]
    page: int
    chunk_index: int
    text: str
    ocr: bool = False


def read_point(payload: Mapping[str, Any]) -> PointFields:
    return PointFields(
        doc_id=doc_id_of(payload),
        filename=str(payload.get(FILENAME, "")),
        title=str(payload.get(TITLE, "")),
        tags=[str(tag) for tag in payload.get(TAGS) or []],
        page=int(payload.get(PAGE, 1) or 0),
        chunk_index=int(payload.get(CHUNK_INDEX, 0) or 0),
        text=text_of(payload),
        ocr=payload.get(TEXT_FROM) == FROM_OCR,
    )


def doc_id_of(payload: Mapping[str, Any]) -> str:
    return str(payload.get(DOC_ID, ""))


def text_of(payload: Mapping[str, Any]) -> str:
    return str(payload.get(TEXT, ""))


def is_chunk(payload: Mapping[str, Any]) -> bool:
    return payload.get(KIND) == CHUNK


def document_info(point: PointRecord | StoredPoint) -> DocumentInfo:
    p = point.payload
    return DocumentInfo(
        doc_id=doc_id_of(p),
        filename=str(p.get(FILENAME, "")),
        title=str(p.get(TITLE, "")),
        pages=int(p.get(PAGES, 0)),
        chunks=int(p.get(CHUNKS, 0)),
        bytes=int(p.get(BYTES, 0)),
        mime=str(p.get(MIME, "")),
        status=p.get(STATUS, "done"),
        error=p.get(ERROR),
        ingested_at=p.get(INGESTED_AT),
        tags=list(p.get(TAGS) or []),
        metadata=dict(p.get(META) or {}),
        chunking=p.get(CHUNKING),
    )


def collection_info_of(record: PointRecord) -> CollectionInfo:
    return CollectionInfo(
        model=str(record.payload[MODEL]), dimension=int(record.payload[DIMENSION])
    )


def compaction_of(record: PointRecord) -> str | None:
    value = record.payload.get(COMPACTION)
    return str(value) if value is not None else None


def revision_of(record: PointRecord) -> str | None:
    value = record.payload.get(REVISION)
    return str(value) if value is not None else None


def is_backfilled(collection: PointRecord) -> bool:
    return bool(collection.payload.get(BACKFILLED))


def mark_backfilled() -> dict[str, Any]:
    """The collection point's payload change recording that the backfill was done."""
    return {BACKFILLED: 1}


def lacks_filter_fields(chunk: PointRecord) -> bool:
    return not all(key in chunk.payload for key in CHUNK_FILTER_FIELDS)


def filter_fields_of(document: PointRecord, mime: str | None) -> dict[str, Any]:
    """The values a chunk copies from its document point; ``mime`` stands in for a document
    point that has none (the oldest versions wrote none)."""
    return {
        MIME: document.payload.get(MIME) or mime,
        INGESTED_AT: document.payload.get(INGESTED_AT),
    }


def ingested_at_of(record: PointRecord) -> str:
    return str(record.payload.get(INGESTED_AT, ""))


# -- filters -----------------------------------------------------------------------------------


def chunks_of(doc_id: str | Sequence[str]) -> Where:
    """The chunks of one document, or of any of several."""
    return {KIND: CHUNK, DOC_ID: doc_id if isinstance(doc_id, str) else list(doc_id)}


def all_points_of(doc_id: str) -> Where:
    """The document point and every chunk of one document."""
    return {DOC_ID: doc_id}


def documents_where(
    *, filename: str | Sequence[str] | None = None, status: str | None = None
) -> Where:
    """Document points, of one file name or of any of several, and of one status."""
    where: dict[str, WhereValue] = {KIND: DOCUMENT}
    if filename is not None:
        where[FILENAME] = filename if isinstance(filename, str) else list(filename)
    if status is not None:
        where[STATUS] = status
    return where


COLLECTION_ONLY: Where = {KIND: COLLECTION}


def chunk_filter(
    *,
    doc_id: str | None = None,
    tags: Sequence[str] = (),
    mimes: Sequence[str] = (),
    ingested: DateRange | None = None,
    metadata: Mapping[str, str] | None = None,
    ocr_only: bool = False,
) -> Where:
    """The chunks a search may find: ANY of ``tags``, ANY of ``mimes``, ALL ``metadata`` pairs;
    with ``ocr_only``, only text read by OCR."""
    where: dict[str, WhereValue] = {KIND: CHUNK}
    if doc_id:
        where[DOC_ID] = doc_id
    if tags:
        where[TAGS] = list(tags)
    if mimes:
        where[MIME] = list(mimes)
    if ingested is not None:
        where[INGESTED_AT] = ingested
    if ocr_only:
        where[TEXT_FROM] = FROM_OCR
    # Metadata keys hold no dots (``search.labels``), so each is one level under ``meta``.
    where.update({f"{META}.{key}": value for key, value in (metadata or {}).items()})
    return where
