"""The list of documents, read from the store's `kind: "document"` points.

The store is the single source of truth, so app replicas need no database of their own.
"""

from __future__ import annotations

from search.errors import DocumentNotFoundError
from search.results import DocumentInfo
from search.store import PointRecord, VectorStore, document_point_id


def list_documents(store: VectorStore) -> list[DocumentInfo]:
    """All documents, newest first."""
    documents = [document_info(p) for p in store.scroll({"kind": "document"})]
    return sorted(documents, key=lambda d: d.ingested_at or "", reverse=True)


def find_document(store: VectorStore, doc_id: str) -> DocumentInfo | None:
    records = store.retrieve([document_point_id(doc_id)])
    return document_info(records[0]) if records else None


def find_by_filename(store: VectorStore, filename: str) -> list[DocumentInfo]:
    """The documents stored under this name (normally one; more while a version replaces
    another, or when two different files of that name came in one run)."""
    return [document_info(p) for p in store.scroll({"kind": "document", "filename": filename})]


def get_document(store: VectorStore, doc_id: str) -> DocumentInfo:
    document = find_document(store, doc_id)
    if document is None:
        raise DocumentNotFoundError(f"no document with id {doc_id!r}")
    return document


def delete_document(store: VectorStore, doc_id: str) -> DocumentInfo:
    """Remove the document point and every chunk of the document."""
    document = get_document(store, doc_id)
    store.delete({"doc_id": doc_id})
    return document


def document_info(record: PointRecord) -> DocumentInfo:
    p = record.payload
    return DocumentInfo(
        doc_id=str(p.get("doc_id", "")),
        filename=str(p.get("filename", "")),
        title=str(p.get("title", "")),
        pages=int(p.get("pages", 0)),
        chunks=int(p.get("chunks", 0)),
        bytes=int(p.get("bytes", 0)),
        mime=str(p.get("mime", "")),
        status=p.get("status", "done"),
        error=p.get("error"),
        ingested_at=p.get("ingested_at"),
        tags=list(p.get("tags") or []),
        metadata=dict(p.get("meta") or {}),
        chunking=p.get("chunking"),
    )
