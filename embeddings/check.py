"""``semsearch embeddings check`` and the /settings page's "test connection", for the embeddings
provider and for the reranker.

Embeds one probe text with the live provider and reports what a user needs to debug their
configuration: which provider is active and why, the model, the endpoint, the dimension, the
time taken, and the error, if any, worded by the provider so that it names the setting to fix.
Whether a token is set is reported; the token itself never is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from embeddings.base import EmbeddingProvider
from embeddings.cache import unwrap
from embeddings.errors import EmbeddingError
from embeddings.rerank import Reranker, RerankSettings, resolve_rerank_provider
from embeddings.settings import EmbeddingSettings, resolve_provider
from inference.redact import redact_url, redact_urls_in

PROBE_TEXT = "semsearch connection check"


@dataclass
class ConnectionReport:
    """The outcome of one probe embedding (serialisable as JSON by the API and the CLI)."""

    ok: bool
    provider: str
    reason: str
    model: str
    endpoint: str | None
    dimension: int | None
    took_ms: float
    error: str | None
    token_set: bool


def check_connection(provider: EmbeddingProvider, settings: EmbeddingSettings) -> ConnectionReport:
    """Embed one probe text with ``provider`` now and report.

    The vector cache is bypassed: a check must reach the server, or it proves nothing.
    """
    token = settings.token.get_secret_value().strip()
    try:
        _, reason = resolve_provider(settings)
    except EmbeddingError as exc:
        reason = exc.message
    endpoint: str | None = None
    if provider.name == "endpoint":
        endpoint = settings.endpoint.strip() or None
    elif provider.name == "hf-inference":
        endpoint = settings.hf_inference_base_url.strip() or None
    started = time.perf_counter()
    dimension: int | None = None
    error: str | None = None
    try:
        vectors = unwrap(provider).embed_documents([PROBE_TEXT])
        dimension = len(vectors[0])
    except EmbeddingError as exc:
        error = exc.message
    except Exception as exc:  # a diagnostic must report, not crash the page
        error = f"{type(exc).__name__}: {exc}"
    took_ms = (time.perf_counter() - started) * 1000
    error = _shown(error, token, settings.endpoint.strip(), provider.model_id)
    return ConnectionReport(
        ok=error is None,
        provider=provider.name,
        reason=reason,
        model=redact_url(provider.model_id),
        endpoint=redact_url(endpoint) if endpoint else None,
        dimension=dimension,
        took_ms=round(took_ms, 1),
        error=error,
        token_set=bool(token),
    )


#: The reranker's probe: a question, a passage that answers it and one that does not.
RERANK_PROBE_QUERY = "What does semsearch do?"
RERANK_PROBE_TEXTS = (
    "semsearch finds what documents mean, not only the words typed.",
    "Bananas are yellow when they are ripe.",
)


@dataclass
class RerankReport:
    """The outcome of one probe reranking (``semsearch embeddings check``, /settings)."""

    ok: bool
    provider: str
    reason: str
    model: str | None
    endpoint: str | None
    #: The probe's two scores: the answering passage's first; a working reranker scores it
    #: higher.
    scores: list[float] | None
    took_ms: float
    error: str | None
    token_set: bool


def check_reranker(
    reranker: Reranker | None, settings: RerankSettings, *, not_open: str | None = None
) -> RerankReport:
    """Rerank the probe with ``reranker`` now and report; ``not_open`` is why the configured
    one could not be opened (then nothing is sent). With none configured, ``ok`` is true: no
    reranking is a valid choice, and the report says so."""
    token = settings.token.get_secret_value().strip()
    try:
        provider, reason = resolve_rerank_provider(settings)
    except EmbeddingError as exc:
        provider, reason = "none", exc.message
    endpoint = redact_url(settings.endpoint) if provider == "endpoint" else None
    model = redact_url(reranker.model_id) if reranker is not None else settings.model or None
    started = time.perf_counter()
    scores: list[float] | None = None
    error = not_open
    if reranker is not None and error is None:
        try:
            scores = [round(s, 6) for s in reranker.rerank(RERANK_PROBE_QUERY, RERANK_PROBE_TEXTS)]
        except EmbeddingError as exc:
            error = exc.message
        except Exception as exc:  # a diagnostic must report, not crash the page
            error = f"{type(exc).__name__}: {exc}"
    took_ms = (time.perf_counter() - started) * 1000
    error = _shown(error, token, settings.endpoint.strip())
    return RerankReport(
        ok=error is None,
        provider=provider,
        reason=reason,
        model=model,
        endpoint=endpoint,
        scores=scores,
        took_ms=round(took_ms, 1),
        error=error,
        token_set=bool(token),
    )


def _shown(error: str | None, token: str, *urls: str) -> str | None:
    """An error as a report may show it: no token, no password of a URL."""
    if not error:
        return error
    if token:
        error = error.replace(token, "***")
    return redact_urls_in(error, *urls)
