"""Chunking preview: `POST /api/documents/preview` shows how a file would be chunked.

Nothing is stored: the file is checked, loaded and chunked as an upload would be (see
``ingest.preview``) and the chunks come back, so a user can try chunk sizes before ingesting.
Refusals are the upload's own (400/413/415 at once, 422 naming the cause when parsing fails).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ingest.chunking import MAX_CHUNK_TOKENS, load_default_tokenizer
from ingest.preview import (
    DEFAULT_SHOWN,
    MAX_SHOWN,
    ChunkPreview,
    chunking_with,
    preview_file,
)
from web.deps import ReaderDep, SettingsDep, require_api_key
from web.errors import UPLOAD_ERROR_RESPONSES, error_response

api = APIRouter(prefix="/api", tags=["documents"], dependencies=[Depends(require_api_key)])


@api.post("/documents/preview", response_model=ChunkPreview, responses=UPLOAD_ERROR_RESPONSES)
async def preview_document(
    settings: SettingsDep,
    reader: ReaderDep,
    file: Annotated[UploadFile, File(description="The file to preview")],
    chunks: Annotated[
        int, Query(ge=1, le=MAX_SHOWN, description="How many of the first chunks to return")
    ] = DEFAULT_SHOWN,
    chunk_size: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_CHUNK_TOKENS, description="Chunk size in tokens (default: the server's)"
        ),
    ] = None,
    chunk_overlap: Annotated[
        int | None,
        Query(
            ge=0,
            lt=MAX_CHUNK_TOKENS,
            description="Overlap in tokens, less than the chunk size (default: the server's)",
        ),
    ] = None,
) -> ChunkPreview | JSONResponse:
    """The chunks ingesting this file would store (the first ``chunks`` of them), with counts
    and token sizes; nothing is stored."""
    try:
        chunking = chunking_with(settings.chunking(), chunk_size, chunk_overlap)
    except ValueError as error:
        return error_response(422, "invalid_request", str(error))
    # One byte past the limit is enough to know a file is too large, as the upload reads it.
    data = await file.read(settings.max_upload_bytes + 1)
    name = file.filename or "upload"

    def preview() -> ChunkPreview:  # parsing and chunking are CPU work: off the event loop
        tokenizer = load_default_tokenizer()
        return preview_file(
            name,
            data,
            tokenizer,
            chunking,
            max_bytes=settings.max_upload_bytes,
            shown=chunks,
            read=reader.load,
        )

    return await run_in_threadpool(preview)
