"""The reranker's part of ``semsearch embeddings check`` and ``semsearch embeddings serve``."""

from __future__ import annotations

from rich.console import Console

from embeddings.check import RerankReport, check_reranker
from embeddings.errors import EmbeddingError
from embeddings.rerank import Reranker, build_reranker, resolve_rerank_provider
from web.services import RerankInUse
from web.settings import Settings


def rerank_report(settings: Settings, in_use: RerankInUse) -> RerankReport | None:
    """The probe's report, or None when no reranker is configured (nothing to check)."""
    if in_use.setup.reranker is None and in_use.setup.error is None:
        return None
    return check_reranker(in_use.setup.reranker, settings.rerank(), not_open=in_use.setup.error)


def print_rerank_report(report: RerankReport, out: Console, err: Console) -> None:
    if not report.ok:
        err.print(f"[red]reranker failed:[/red] {report.error}", highlight=False)
        return
    scores = report.scores or [0.0, 0.0]
    wrong_way = " (the wrong way round: is it a reranker?)" if scores[0] <= scores[1] else ""
    out.print(
        f"ok: reranker {report.provider} ({report.reason}), model {report.model or '-'}, "
        f"probe scores {scores[0]:.4f} > {scores[1]:.4f}{wrong_way}, {report.took_ms:.0f} ms",
        highlight=False,
    )


def reranker_to_serve(settings: Settings) -> Reranker | None:
    """The local cross-encoder ``embeddings serve`` answers ``/rerank`` with; None unless
    ``RERANK_PROVIDER=local`` (serving a remote reranker would only relay it). Raises
    ``EmbeddingError`` naming the setting when it cannot be loaded."""
    configured = settings.rerank()
    provider, _ = resolve_rerank_provider(configured)
    if provider != "local":
        return None
    reranker = build_reranker(configured)
    if reranker is None:  # pragma: no cover - "local" always builds one or raises
        raise EmbeddingError("the local reranker could not be built", setting="RERANK_MODEL")
    return reranker
