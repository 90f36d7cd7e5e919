"""The `semsearch` command line. `--json` prints exactly what the matching API route returns."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from embeddings.check import check_connection, served_by
from embeddings.errors import EmbeddingError
from inference.errors import SemsearchError
from ingest.errors import IngestStoppedError
from ingest.models import IngestOutcome, SourceFile
from search.clustering import LEVELS
from search.file_types import SUPPORTED_EXTENSIONS
from search.results import DocumentList
from search.store import compact
from web.cli_ask import ask
from web.cli_generation import generation_app
from web.cli_labels import MetaOption, TagOption, describe, labels_or_exit
from web.cli_rerank import print_rerank_report, rerank_report, reranker_to_serve
from web.cli_search import search
from web.cli_worker import worker
from web.exposure import embeddings_server_warnings, exposure_warnings, key_warnings
from web.http_server import uvicorn_options
from web.same_origin import default_allowed_hosts
from web.services import Services, open_services
from web.settings import Settings

app = typer.Typer(help="Semantic search over your documents.", no_args_is_help=True)
embeddings_app = typer.Typer(help="The embeddings node.", no_args_is_help=True)
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(generation_app, name="generation")
app.command()(ask)
app.command()(worker)
out = Console()
err = Console(stderr=True)


@contextmanager
def _services() -> Iterator[Services]:
    """Open the services, turning the errors a user can fix into one clear line and exit 2."""
    try:
        with open_services(Settings()) as services:
            yield services
    except SemsearchError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None


def _print_json(model: BaseModel) -> None:
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the web app and the API."""
    import uvicorn

    from web.app import create_app

    settings = Settings()
    if not settings.allowed_host_names:
        settings = settings.model_copy(
            update={"allowed_hosts": ",".join(default_allowed_hosts(host))}
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("semsearch").info(
        "answering for the hosts %s (SEMSEARCH_ALLOWED_HOSTS)", settings.allowed_hosts
    )
    key = settings.api_key.get_secret_value()
    for level, line in [*exposure_warnings(host, port, has_key=bool(key)), *key_warnings(key)]:
        logging.getLogger("semsearch").log(level, "%s", line)
    uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options())


def _collect(paths: list[Path]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(path))
    return files, missing


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders")],
    tag: TagOption = None,
    meta: MetaOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show how each file would be chunked; store nothing")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --dry-run: the preview API's JSON, per file")
    ] = False,
) -> None:
    """Ingest files and folders (recursively), with a progress bar and a summary.

    --tag and --meta label every file; a file already stored gets the new labels."""
    labels = labels_or_exit(tag, meta)
    files, missing = _collect(paths)
    for name in missing:
        err.print(f"[red]error:[/red] {name}: no such file or folder", highlight=False)
    if dry_run:  # opens no store: works while a server holds the data folder
        from web.cli_preview import dry_run as preview_files

        raise typer.Exit(0 if preview_files(files, as_json=as_json) and not missing else 1)
    outcomes: list[IngestOutcome] = []
    with (
        _services() as services,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress,
    ):
        for document in services.interrupted:
            err.print(
                f"[yellow]note:[/yellow] {document.filename} was left half-written by an"
                " earlier run that was stopped; its chunks were removed, ingest it again",
                highlight=False,
            )
        overall = progress.add_task("files", total=len(files))
        current = progress.add_task("", total=1)

        def report(index: int, stage: str, done: int, total: int) -> None:
            progress.update(
                current,
                description=f"{files[index].name}: {stage}",
                completed=done,
                total=total or 1,
            )

        # Files are read as the pipeline asks for them; their chunks are embedded together.
        read = (SourceFile(path.name, path.read_bytes(), labels) for path in files)
        stopped: IngestStoppedError | None = None
        try:
            for outcome in services.pipeline.ingest_many(read, progress=report):
                outcomes.append(outcome)
                progress.advance(overall)
        except IngestStoppedError as error:  # a setting, not a file: no file more is sent
            stopped = error
        progress.update(current, description="building the search index (graph)")
        # Every core: the folder is this command's alone while it runs.
        seconds = compact(services.store, threads=0)
    if seconds is not None:
        err.print(f"search index built in {seconds:.1f} s", highlight=False)
    _summary(outcomes)
    if describe(labels):
        out.print(f"labels: {describe(labels)}", highlight=False)
    if stopped is not None:
        left = len(files) - len(outcomes)
        err.print(
            f"[red]error:[/red] {stopped.message}\n{left} of {len(files)} files were not "
            "ingested: fix the setting and run the same command again (what is stored is "
            "kept, and files already ingested are skipped)",
            highlight=False,
        )
    if stopped is not None or missing or any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def _summary(outcomes: list[IngestOutcome]) -> None:
    table = Table(title="Ingestion summary")
    for column in ("file", "status", "pages", "chunks", "details"):
        table.add_column(column)
    for o in outcomes:
        status = {"done": "[green]done[/green]", "failed": "[red]failed[/red]"}.get(
            o.status, "unchanged"
        )
        details = o.error or ("already indexed" if o.status == "unchanged" else o.doc_id or "")
        if o.replaced:
            details += f" (replaced an older version: {', '.join(d[:12] for d in o.replaced)})"
        table.add_row(o.filename, status, str(o.pages), str(o.chunks), details)
    out.print(table)
    failed = sum(o.status == "failed" for o in outcomes)
    out.print(f"{len(outcomes) - failed} of {len(outcomes)} files ingested, {failed} failed")


app.command()(search)


@app.command()
def documents(
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """List the documents."""
    with _services() as services:
        listing = DocumentList(documents=services.catalog.documents())
    if as_json:
        _print_json(listing)
        return
    table = Table()
    for column in ("doc_id", "file", "title", "tags", "pages", "chunks", "added"):
        table.add_column(column)
    for d in listing.documents:
        tags = escape(", ".join(d.tags))
        table.add_row(
            d.doc_id[:12],
            d.filename,
            d.title,
            tags,
            str(d.pages),
            str(d.chunks),
            d.ingested_at or "",
        )
    out.print(table)


@app.command()
def delete(
    doc_id: Annotated[str, typer.Argument(help="The document's id (see `semsearch documents`)")],
) -> None:
    """Delete a document, its chunks and its stored original."""
    with _services() as services:
        matches = [d.doc_id for d in services.catalog.documents() if d.doc_id.startswith(doc_id)]
        if len(matches) != 1:
            problem = "no document" if not matches else f"{len(matches)} documents"
            err.print(f"[red]error:[/red] {problem} with an id starting with {doc_id!r}")
            raise typer.Exit(1)
        removed = services.pipeline.delete(matches[0])
    out.print(f"deleted {removed.filename} ({removed.doc_id})", highlight=False)


@app.command()
def clusters(
    k: Annotated[
        int | None, typer.Option("--k", help="Number of clusters (default: automatic)")
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="document, or chunk to cluster passages")
    ] = "document",
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """Group the documents (or with --level chunk their passages) into labelled clusters."""
    if level not in LEVELS:
        err.print(f"[red]error:[/red] --level must be document or chunk, not {level!r}")
        raise typer.Exit(2)
    with _services() as services:
        result = services.clusters.clusters(k, level=level)
    if as_json:
        _print_json(result)
        return
    out.print(f"{result.k} clusters ({result.k_chosen_by})")
    for c in result.clusters:
        names = ", ".join(
            (d.title or d.filename) + (f" p.{d.page}" if d.page is not None else "")
            for d in c.documents
        )
        out.print(f"[bold]{c.label}[/bold] ({c.size}): {names}", highlight=False)


@embeddings_app.command("check")
def embeddings_check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the embeddings configuration: token, model, one probe embedding, dimension; and
    the reranker's, when one is configured (two probe passages reranked)."""
    settings = Settings()
    with _services() as services:
        report = check_connection(services.embedder, settings.embeddings())
        reranking = rerank_report(settings, services.rerank)
    if as_json:
        body = dataclasses.asdict(report)
        body["rerank"] = dataclasses.asdict(reranking) if reranking else None
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    elif report.ok:
        out.print(
            f"ok: {report.provider} ({report.reason}), model {report.model or '-'}, "
            f"dimension {report.dimension}, {report.took_ms:.0f} ms",
            highlight=False,
        )
    else:
        err.print(f"[red]failed:[/red] {report.error}", highlight=False)
    if not as_json:
        for line in served_by(report):
            out.print(f"  {line}", highlight=False)
    if reranking is not None and not as_json:
        print_rerank_report(reranking, out, err)
    if not report.ok or (reranking is not None and not reranking.ok):
        raise typer.Exit(1)


@embeddings_app.command("serve")
def embeddings_serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8080,
    max_batch_size: Annotated[
        int, typer.Option(help="Most texts per request (TEI's max_client_batch_size)", min=1)
    ] = 32,
    api_key: Annotated[
        str,
        typer.Option(
            envvar="EMBEDDINGS_SERVE_API_KEY",
            help="Ask every request but /health for 'Authorization: Bearer <key>' (clients "
            "send it as their HF_TOKEN)",
            show_default=False,
        ),
    ] = "",
) -> None:
    """Serve the configured provider over text-embeddings-inference's HTTP API, and with
    RERANK_PROVIDER=local its cross-encoder at /rerank.

    Other semsearch instances use it with EMBEDDINGS_ENDPOINT=http://HOST:PORT/embed (and
    RERANK_ENDPOINT=http://HOST:PORT/rerank).
    """
    import uvicorn

    from embeddings.factory import build_provider
    from embeddings.local import LocalProvider
    from embeddings.server import create_embeddings_app
    from embeddings.server_tokens import find_tokenizer, token_counter
    from embeddings.settings import resolve_provider
    from inference.redact import redact_url

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    log = logging.getLogger("semsearch")
    # Clients put their own prompts before the texts (as with TEI), so the server embeds
    # exactly what it receives: automatic prompts here would double them.
    settings = dataclasses.replace(
        Settings().embeddings(), query_prompt="none", document_prompt="none"
    )
    try:
        _, reason = resolve_provider(settings)
        provider = build_provider(settings)
        dimension = provider.dimension
        reranker = reranker_to_serve(Settings())
    except EmbeddingError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None
    max_input_length, counter = 256, None
    if isinstance(provider, LocalProvider):
        max_input_length = provider.max_seq_length
        tokenizer = find_tokenizer(provider.model_source)
        counter = token_counter(tokenizer) if tokenizer else None
    app = create_embeddings_app(
        provider,
        max_client_batch_size=max_batch_size,
        max_input_length=max_input_length,
        count_tokens=counter,
        api_key=api_key,
        reranker=reranker,
    )
    for level, line in embeddings_server_warnings(
        host, port, has_key=bool(api_key), remote=provider.name != "local"
    ):
        log.log(level, "%s", line)
    base = f"http://{host}:{port}"
    log.info(
        "serving the %s provider (%s): model %s, dimension %d, at most %d texts per request, "
        "%d tokens per text%s",
        provider.name,
        reason,
        redact_url(provider.model_id),
        dimension,
        max_batch_size,
        max_input_length,
        "" if counter else " (lengths not checked: no tokenizer found)",
    )
    log.info("TEI API at %s/embed, OpenAI API at %s/v1/embeddings, %s/info", base, base, base)
    log.info("point other instances at it with EMBEDDINGS_ENDPOINT=%s/embed", base)
    if reranker is not None:
        log.info("reranker %s at %s/rerank (RERANK_ENDPOINT)", reranker.model_id, base)
    try:
        uvicorn.run(app, host=host, port=port, **uvicorn_options())
    finally:
        provider.close()
        if reranker is not None:
            reranker.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
