"""`semsearch embeddings`: the embeddings node's commands. `check` probes the configured
provider (and reranker); `serve` offers it to other instances over TEI's HTTP API."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from embeddings.check import check_connection, served_by
from embeddings.errors import EmbeddingError
from web.cli_rerank import print_rerank_report, rerank_report, reranker_to_serve
from web.cli_services import opened_services
from web.exposure import embeddings_server_warnings
from web.http_server import uvicorn_options
from web.settings import Settings

embeddings_app = typer.Typer(help="The embeddings node.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@embeddings_app.command("check")
def embeddings_check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the embeddings configuration: token, model, one probe embedding, dimension; and
    the reranker's, when one is configured (two probe passages reranked)."""
    settings = Settings()
    with opened_services() as services:
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
