"""The `semsearch` command line. `--json` prints exactly what the matching API route returns."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.errors import IngestStoppedError
from ingest.models import IngestOutcome, SourceFile
from search.clustering import LEVELS
from search.file_types import SUPPORTED_EXTENSIONS
from search.results import DocumentList
from search.store import compact
from web.cli_ask import ask
from web.cli_embeddings import embeddings_app
from web.cli_generation import generation_app
from web.cli_labels import MetaOption, TagOption, describe, labels_or_exit
from web.cli_search import search
from web.cli_services import opened_services
from web.cli_worker import worker
from web.exposure import exposure_warnings, key_warnings
from web.http_server import uvicorn_options
from web.same_origin import default_allowed_hosts
from web.settings import Settings

app = typer.Typer(help="Semantic search over your documents.", no_args_is_help=True)
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(generation_app, name="generation")
app.command()(ask)
app.command()(worker)
out = Console()
err = Console(stderr=True)


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
        opened_services() as services,
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
    with opened_services() as services:
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
    with opened_services() as services:
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
    with opened_services() as services:
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
