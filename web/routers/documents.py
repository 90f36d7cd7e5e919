"""Documents: upload (`POST /api/documents`, `/upload`), list, fetch the original, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, PrivateAttr

from inference.errors import SemsearchError
from ingest.errors import QueueFullError, RejectedFileError, StorageFullError
from ingest.jobs import UNFINISHED, JobInfo, JobQueue
from ingest.models import SourceFile
from ingest.pipeline import IngestPipeline
from search.catalog import DocumentCatalog
from search.errors import DocumentNotFoundError, InvalidLabelsError
from search.file_types import SUPPORTED_EXTENSIONS
from search.labels import Labels, build_labels, parse_tags
from search.results import DocumentInfo, DocumentList, SearchResponse
from web.deps import (
    CatalogDep,
    JobsDep,
    OriginalsDep,
    PipelineDep,
    SearchDep,
    SettingsDep,
    require_api_key,
)
from web.errors import (
    UPLOAD_ERROR_RESPONSES,
    domain_error_status,
    error_response,
    error_responses,
)
from web.listing import Order, SortKey, filter_and_sort, header_links
from web.login import require_csrf
from web.settings import Settings
from web.templating import templates

api = APIRouter(prefix="/api", tags=["documents"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)

MAX_FILES_PER_REQUEST = 1000
TAGS_HELP = (
    "Tags for every file of the request: comma-separated, and/or the field repeated. Trimmed and "
    "lower-cased; at most 20 tags of 50 characters"
)
METADATA_HELP = (
    "Metadata for every file of the request: `key=value`, one pair per field (repeat the field) "
    "or one per line. Keys are 1-40 letters, digits, `_` or `-`; values at most 200 characters; "
    "at most 20 keys"
)


class RejectedFile(BaseModel):
    filename: str
    status: int
    message: str
    #: The error code (``web.errors``), for the answer of a request none of whose files is kept.
    _code: str = PrivateAttr(default="file_rejected")

    @classmethod
    def of(cls, filename: str, error: SemsearchError) -> RejectedFile:
        status, code = domain_error_status(error)
        rejected = cls(filename=filename, status=status, message=error.message)
        rejected._code = code
        return rejected


class UploadResponse(BaseModel):
    """A job per accepted file; files judged bad at once are listed under ``rejected`` (with
    503 when the queue was full: send them again after ``retry_after`` seconds; with 507 when
    the disk was full: nothing of that file was kept, the files accepted before it were)."""

    jobs: list[JobInfo]
    rejected: list[RejectedFile]
    retry_after: int | None = None


async def _accept(
    pipeline: IngestPipeline,
    jobs: JobQueue,
    limit: int,
    files: list[UploadFile],
    labels: Labels,
) -> UploadResponse:
    """Judge each file at once; queue a job for each good one. One bad file never stops the rest.
    ``limit``: the upload limit in bytes."""
    result = UploadResponse(jobs=[], rejected=[])
    for upload in files[:MAX_FILES_PER_REQUEST]:
        # Read one byte past the limit: enough to know a file is too large.
        data = await upload.read(limit + 1)
        try:
            checked = pipeline.accept(SourceFile(upload.filename or "upload", data, labels))
        except RejectedFileError as error:
            result.rejected.append(RejectedFile.of(error.filename, error))
            continue
        # Judged once: the job, the upload spool and the run keep this verdict.
        try:
            result.jobs.append(jobs.submit(checked))
        except (QueueFullError, StorageFullError) as refused:  # this file; the others go on
            result.rejected.append(RejectedFile.of(checked.name, refused))
            if isinstance(refused, QueueFullError):
                result.retry_after = refused.retry_after
    return result


@api.post(
    "/documents",
    status_code=202,
    response_model=UploadResponse,
    # web.guard refuses file MAX+1 while streaming (413 too_many_files); the parser's own limit
    # (a 400) follows the same number, should a request reach it without the guard.
    form_limits={"max_files": MAX_FILES_PER_REQUEST},
    responses={**UPLOAD_ERROR_RESPONSES, **error_responses(507)},
)
async def upload_documents(
    pipeline: PipelineDep,
    jobs: JobsDep,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description="One or many files")],
    tags: Annotated[list[str] | None, Form(description=TAGS_HELP)] = None,
    metadata: Annotated[list[str] | None, Form(description=METADATA_HELP)] = None,
) -> UploadResponse | JSONResponse:
    """202 with a job per accepted file; if none is accepted, the first refusal's status (a 4xx,
    503 for a full queue, 507 for a full disk) naming the file and cause.

    ``tags`` and ``metadata`` label every file of the request; they are stored on each chunk
    and filter searches. Invalid ones are a 422 (`invalid_labels`), and no file is queued.
    Uploading bytes already stored with other labels rewrites that document's labels."""
    if len(files) > MAX_FILES_PER_REQUEST:
        return error_response(
            413, "too_many_files", f"at most {MAX_FILES_PER_REQUEST} files per request"
        )
    labels = build_labels(tags=tags or (), metadata_entries=metadata or ())
    result = await _accept(pipeline, jobs, settings.max_upload_bytes, files, labels)
    if result.jobs or not result.rejected:
        return result
    first = result.rejected[0]
    message = (
        first.message
        if len(result.rejected) == 1
        else (f"all {len(result.rejected)} files were rejected; first: {first.message}")
    )
    refusal = error_response(
        first.status,
        first._code,
        message,
        filename=first.filename,
        rejected=[r.model_dump() for r in result.rejected],
    )
    if result.retry_after is not None:
        refusal.headers["Retry-After"] = str(result.retry_after)
    return refusal


def _all_documents(
    catalog: DocumentCatalog, jobs: JobQueue, tags: Sequence[str] = ()
) -> list[DocumentInfo]:
    """Stored documents, plus files this process is still working on or failed to ingest.

    With ``tags``, only stored documents with any of them (files not yet stored have none)."""
    wanted = set(parse_tags(tags))
    stored = catalog.documents()
    if wanted:
        return [d for d in stored if wanted.intersection(d.tags)]
    known = {d.doc_id for d in stored}
    pending = [
        DocumentInfo(
            doc_id=job.doc_id or job.id,
            filename=job.filename,
            title=job.filename,
            pages=0,
            chunks=0,
            bytes=0,
            status=job.status,
            error=job.error,
        )
        for job in jobs.recent()
        if job.status != "done" and (job.doc_id or job.id) not in known
    ]
    return pending + stored


@api.get("/documents", response_model=DocumentList)
def documents(
    catalog: CatalogDep,
    jobs: JobsDep,
    tags: Annotated[
        list[str] | None, Query(description="Only documents with any of these tags")
    ] = None,
) -> DocumentList:
    return DocumentList(documents=_all_documents(catalog, jobs, tags or ()))


@api.get("/documents/{doc_id}", response_model=DocumentInfo)
def document(doc_id: str, catalog: CatalogDep) -> DocumentInfo:
    return catalog.get(doc_id)


@api.get("/documents/{doc_id}/similar", response_model=SearchResponse)
def similar_documents(
    doc_id: str,
    search: SearchDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many documents")] = 10,
) -> SearchResponse:
    """Documents like this one (their mean vectors), each with its passage nearest to it."""
    return search.similar_documents(doc_id, k=k)


@api.delete("/documents/{doc_id}", response_model=DocumentInfo)
def delete_document(doc_id: str, pipeline: PipelineDep) -> DocumentInfo:
    return pipeline.delete(doc_id)


@api.get("/documents/{doc_id}/file", response_class=FileResponse)
def document_file(doc_id: str, catalog: CatalogDep, originals: OriginalsDep) -> FileResponse:
    info = catalog.get(doc_id)
    path = originals.path(doc_id, info.filename)
    if not path.is_file():
        raise DocumentNotFoundError(f"the original file of {info.filename!r} is not stored")
    return FileResponse(
        path,
        filename=info.filename,
        content_disposition_type="inline",
        headers=ORIGINAL_HEADERS if info.mime != "text/html" else ORIGINAL_HTML_HEADERS,
    )


@pages.get("/documents", response_class=HTMLResponse)
def documents_page(
    request: Request,
    catalog: CatalogDep,
    jobs: JobsDep,
    tags: Annotated[list[str] | None, Query()] = None,
    name: Annotated[str, Query(max_length=200)] = "",
    sort: SortKey | None = None,
    order: Order = "asc",
) -> HTMLResponse:
    """Rows of files being worked on show their job's stage and progress ("embedding 40/120"),
    also when the file re-labels a stored document; a tag link narrows the list to that tag.
    ``name``, ``sort`` and ``order`` filter and sort without JavaScript (``web.listing``)."""
    active = {
        job.doc_id or job.id: job for job in reversed(jobs.recent()) if job.status in UNFINISHED
    }
    shown_tags = list(parse_tags(tags or ()))
    every = _all_documents(catalog, jobs, tags or ())
    context = {
        "documents": filter_and_sort(every, name=name, sort=sort, order=order),
        "total": len(every),
        "active": active,
        "tags": shown_tags,
        "name": name,
        "columns": header_links(sort=sort, order=order, name=name, tags=shown_tags),
        "page": "documents",
    }
    return templates.TemplateResponse(request, "documents.html", context)


@pages.post("/documents/{doc_id}/delete", response_model=None, dependencies=[Depends(require_csrf)])
def delete_document_form(
    request: Request,
    doc_id: str,
    catalog: CatalogDep,
    pipeline: PipelineDep,
    confirm: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """Deletes only once confirmed: the page's script asks in a dialog and sends
    ``confirm=yes``; without JavaScript this answers a page that asks, with its own form."""
    if confirm != "yes":
        document = catalog.get(doc_id)
        context = {"document": document, "page": "documents"}
        return templates.TemplateResponse(request, "delete.html", context)
    pipeline.delete(doc_id)
    return RedirectResponse("/documents", status_code=303)


# An original is shown in the browser (a result opens it at its page), on the app's own origin:
# never let the browser guess a type, and an uploaded HTML file runs no script and reaches
# nothing of the app (a sandboxed, unique origin). PDFs keep the browser's viewer.
ORIGINAL_HEADERS = {"X-Content-Type-Options": "nosniff"}
ORIGINAL_HTML_HEADERS = {
    **ORIGINAL_HEADERS,
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
}

# Recent jobs shown under the upload form.
RECENT_JOBS_SHOWN = 50


def _upload_page(
    request: Request,
    jobs: JobQueue,
    settings: Settings,
    result: UploadResponse | None,
    status_code: int = 200,
    *,
    form: dict[str, str] | None = None,
    labels_error: str | None = None,
) -> HTMLResponse:
    """``form``: the tags and metadata as typed, shown again (after an error, or for the next
    upload); ``labels_error``: why they were refused."""
    context = {
        "result": result,
        "jobs": jobs.recent()[:RECENT_JOBS_SHOWN],
        "page": "upload",
        "max_mb": settings.max_upload_mb,
        # The file picker's filter; the page's script skips other files of a folder by it.
        "accepted": ",".join(sorted(SUPPORTED_EXTENSIONS)),
        "form": form or {"tags": "", "metadata": ""},
        "labels_error": labels_error,
    }
    return templates.TemplateResponse(request, "upload.html", context, status_code=status_code)


@pages.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, jobs: JobsDep, settings: SettingsDep) -> HTMLResponse:
    return _upload_page(request, jobs, settings, None)


@pages.post("/upload", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
async def upload_form(
    request: Request,
    pipeline: PipelineDep,
    jobs: JobsDep,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File()],
    tags: Annotated[str, Form()] = "",
    metadata: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The form's tags box is comma-separated; its metadata textarea holds one key=value a line."""
    form = {"tags": tags, "metadata": metadata}
    try:
        labels = build_labels(tags=[tags], metadata_entries=[metadata])
    except InvalidLabelsError as error:
        return _upload_page(
            request, jobs, settings, None, 422, form=form, labels_error=error.message
        )
    result = await _accept(pipeline, jobs, settings.max_upload_bytes, files, labels)
    return _upload_page(request, jobs, settings, result, 202 if result.jobs else 400, form=form)
