"""The reranker: a cross-encoder that scores (query, passage) pairs, and its settings.

Search asks the store for candidates, then lets a cross-encoder read each of the first
``RERANK_TOP_N`` passages together with the query and put them in its order: the upgrade the
users of peer tools (Open WebUI, Dify, RAGFlow, AnythingLLM) ask for most. The reranker belongs
to the embeddings node because the same servers serve both: text-embeddings-inference (TEI)
answers ``POST /rerank`` for a cross-encoder as it answers ``POST /embed`` for an embedding
model, and ``semsearch embeddings serve`` serves both.

Providers (``RERANK_PROVIDER``):

* ``endpoint``: a TEI server or Inference Endpoint (``POST /rerank`` or the endpoint's root), or
  a Cohere/Jina-style ``POST /v1/rerank`` (``embeddings.rerank_remote``);
* ``local``: a sentence-transformers ``CrossEncoder`` from a folder or, online, a Hub id
  (``embeddings.rerank_local``);
* ``none``: no reranking (the default).

Blank means inferred: ``RERANK_ENDPOINT`` set → ``endpoint``; else ``none``. A reranker never
makes a search fail: what it raises becomes the response's ``rerank_error`` (``search.reranking``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import SecretStr

from embeddings.errors import EmbeddingConfigError

RerankProviderName = Literal["none", "endpoint", "local"]
RERANK_PROVIDERS: tuple[RerankProviderName, ...] = ("none", "endpoint", "local")
#: Passages a search hands the reranker: enough to lift a page from the second screen, few
#: enough that a CPU cross-encoder answers in about a second.
DEFAULT_TOP_N = 40


@runtime_checkable
class Reranker(Protocol):
    """Scores passages against a query; higher is more relevant.

    ``name`` is the provider kind (``endpoint`` or ``local``), ``model_id`` what the settings
    page shows. Scores are on the model's own scale (TEI's and the local model's: 0..1).
    """

    name: str
    model_id: str

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in the order of ``texts``."""
        ...

    def close(self) -> None:
        """Release HTTP clients or model memory."""
        ...


@dataclass(frozen=True)
class RerankSettings:
    """Typed settings for the reranker, built by the app's settings and passed in."""

    provider: str = ""
    model: str = ""
    endpoint: str = ""
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    #: The setting the token came from, named when a server refuses it.
    token_setting: str = "HF_TOKEN"
    top_n: int = DEFAULT_TOP_N
    batch_size: int = 32
    connect_timeout_s: float = 5.0
    #: The most one search waits for the reranker, retries included; then the search answers
    #: in retrieval order, with ``rerank_error`` saying why.
    timeout_s: float = 10.0


def resolve_rerank_provider(settings: RerankSettings) -> tuple[RerankProviderName, str]:
    """Which reranker is active, and a sentence saying why (shown on start and on /settings)."""
    explicit = settings.provider.strip().lower()
    if explicit:
        for name in RERANK_PROVIDERS:
            if explicit == name:
                return name, f"RERANK_PROVIDER is set to {explicit!r}"
        raise EmbeddingConfigError(
            f"RERANK_PROVIDER={explicit!r} is not one of {', '.join(RERANK_PROVIDERS)}",
            setting="RERANK_PROVIDER",
        )
    if settings.endpoint.strip():
        return "endpoint", "RERANK_ENDPOINT is set"
    return "none", "neither RERANK_PROVIDER nor RERANK_ENDPOINT is set"


def build_reranker(settings: RerankSettings) -> Reranker | None:
    """The reranker ``resolve_rerank_provider`` picks, or None for ``none``.

    Raises ``EmbeddingConfigError`` naming the setting when the choice cannot work (no model for
    ``local``, no URL for ``endpoint``). The local model's heavy imports happen only here.
    """
    name, reason = resolve_rerank_provider(settings)
    if name == "none":
        return None
    if name == "local":
        if not settings.model.strip():
            raise EmbeddingConfigError(
                f"RERANK_MODEL is blank, but the local reranker is active ({reason}); set it "
                "to a cross-encoder's folder or Hub id (such as BAAI/bge-reranker-base)",
                setting="RERANK_MODEL",
            )
        from embeddings.rerank_local import LocalReranker

        return LocalReranker(settings.model.strip(), batch_size=settings.batch_size)
    if not settings.endpoint.strip():
        raise EmbeddingConfigError(
            f"RERANK_ENDPOINT is not set, but the endpoint reranker is active ({reason})",
            setting="RERANK_ENDPOINT",
        )
    from embeddings.rerank_remote import EndpointReranker

    return EndpointReranker(settings)
