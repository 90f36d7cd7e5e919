"""``semsearch embeddings check`` and the /settings page's "test connection", for the embeddings
provider and for the reranker.

Embeds one probe text with the live provider and reports what a user needs to debug their
configuration: which provider is active and why, the model, the endpoint, the dimension, the
time taken, and the error, if any, worded by the provider so that it names the setting to fix.
Whether a token is set is reported; the token itself never is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from embeddings.base import EmbeddingProvider
from embeddings.cache import unwrap
from embeddings.endpoint_namespace import EndpointFound, find_endpoint
from embeddings.errors import EmbeddingError
from embeddings.hf_providers import Route
from embeddings.rerank import Reranker, RerankSettings, resolve_rerank_provider
from embeddings.settings import EmbeddingSettings, resolve_provider
from inference.redact import redact_secrets, redact_url

log = logging.getLogger("embeddings.check")

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
    #: Serverless only: the Inference Provider chosen, why, and its own id for the model
    #: (None when none could be chosen: ``error`` says why).
    hf_provider: str | None = None
    hf_provider_reason: str | None = None
    provider_model_id: str | None = None
    #: With ``EMBEDDINGS_ENDPOINT_NAMESPACE``: the namespace's endpoint at ``EMBEDDINGS_ENDPOINT``
    #: (namespace, name, repository, state, note), once found and checked.
    namespace_endpoint: dict[str, str | None] | None = None


@runtime_checkable
class Routed(Protocol):
    """A provider that chooses where to send (``embeddings.serverless``)."""

    @property
    def chosen_route(self) -> Route | None: ...


def check_connection(provider: EmbeddingProvider, settings: EmbeddingSettings) -> ConnectionReport:
    """Check the endpoint against its namespace when one is set, embed one probe text with
    ``provider`` now, and report.

    The vector cache is bypassed: a check must reach the server, or it proves nothing. When the
    namespace's endpoints disagree with the settings, nothing is sent to the endpoint.
    """
    token = settings.token.get_secret_value().strip()
    try:
        _, reason = resolve_provider(settings)
    except EmbeddingError as exc:
        reason = exc.message
    inner = unwrap(provider)
    endpoint: str | None = (
        settings.endpoint.strip() or None if provider.name == "endpoint" else None
    )
    started = time.perf_counter()
    dimension: int | None = None
    error: str | None = None
    found: EndpointFound | None = None
    try:
        if endpoint and settings.endpoint_namespace:
            found = find_endpoint(settings)
        vectors = inner.embed_documents([PROBE_TEXT])
        dimension = len(vectors[0])
    except EmbeddingError as exc:
        error = exc.message
    except Exception as exc:  # a diagnostic must report, not crash the page
        error = f"{type(exc).__name__}: {exc}"
    took_ms = (time.perf_counter() - started) * 1000
    route = _route_of(inner)
    if route is not None:
        endpoint = route.url
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
        hf_provider=route.provider if route else None,
        hf_provider_reason=route.reason if route else None,
        provider_model_id=route.provider_id if route else None,
        namespace_endpoint=asdict(found) if found else None,
    )


def log_namespace_check(settings: EmbeddingSettings) -> EndpointFound | None:
    """At start, in the background: compare ``EMBEDDINGS_ENDPOINT`` with its namespace's
    Inference Endpoints and log the outcome (a warning naming the setting when they disagree).
    Never raises: a server starts whatever the answer, and the settings page says it again."""
    token = settings.token.get_secret_value().strip()
    try:
        found = find_endpoint(settings)
    except EmbeddingError as exc:
        log.warning("embeddings: %s", _shown(exc.message, token, settings.endpoint.strip()))
        return None
    except Exception as exc:  # a start-up check must report, never stop the server
        log.warning("embeddings: the namespace check failed: %s: %s", type(exc).__name__, exc)
        return None
    log.info(
        "embeddings: EMBEDDINGS_ENDPOINT is the Inference Endpoint %r of %r (%s, %s)%s",
        found.name,
        found.namespace,
        found.repository,
        found.state,
        f"; {found.note}" if found.note else "",
    )
    return found


def served_by(report: ConnectionReport) -> list[str]:
    """What a report says of the Inference Provider and the endpoint's namespace, as lines."""
    lines: list[str] = []
    if report.hf_provider:
        lines.append(
            f"Inference Provider: {report.hf_provider}, model id {report.provider_model_id}"
            f" ({report.hf_provider_reason})"
        )
    if found := report.namespace_endpoint:
        lines.append(
            f"Inference Endpoint {found['name']!r} of {found['namespace']!r}: "
            f"{found['repository']}, {found['state']}"
        )
        if found.get("note"):
            lines.append(str(found["note"]))
    return lines


def _route_of(provider: EmbeddingProvider) -> Route | None:
    """The route a serverless provider chose, or None (another kind, or no choice possible)."""
    return provider.chosen_route if isinstance(provider, Routed) else None


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
    return redact_secrets(error, token, *urls) if error else error
