"""Embeddings settings, mirroring the Flowise node: credential, model name, endpoint URL.

The provider is explicit when ``EMBEDDINGS_PROVIDER`` is set, and otherwise inferred:
an endpoint URL means ``endpoint``; else a token means ``hf-inference`` (HF's serverless
Inference Providers, through the router); else ``local``. Which Inference Provider serves the
model is ``EMBEDDINGS_HF_PROVIDER``: ``auto`` (the Hub's mapping decides,
``embeddings.hf_providers``), ``hf-inference`` or a provider's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlparse

from pydantic import SecretStr

from embeddings.errors import EmbeddingConfigError
from embeddings.prompts import Prompts, resolve_prompts
from inference.hf import DEFAULT_ENDPOINTS_API_URL, DEFAULT_HUB_URL, DEFAULT_ROUTER_URL

ProviderName = Literal["local", "hf-inference", "endpoint"]
PROVIDERS: tuple[ProviderName, ...] = ("local", "hf-inference", "endpoint")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LOCAL_BACKENDS = ("torch", "onnx-int8")
LOCAL_QUERY_BACKENDS = ("onnx", "torch")
_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class EmbeddingSettings:
    """Typed settings for the embeddings node, built by the app's settings and passed in."""

    provider: str = ""
    model: str = DEFAULT_MODEL
    endpoint: str = ""
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    #: ``auto`` (blank), ``hf-inference`` or an Inference Provider's name.
    hf_provider: str = ""
    hub_url: str = DEFAULT_HUB_URL
    router_url: str = DEFAULT_ROUTER_URL
    #: hf-inference's base; blank means ``{router_url}/hf-inference``. Set, it implies the
    #: hf-inference provider (a base of its own only makes sense for it).
    hf_inference_base_url: str = ""
    #: The user or organisation owning ``endpoint`` (Dify's "User name / Organization name"):
    #: when set, checks compare the endpoint with that namespace's Inference Endpoints.
    endpoint_namespace: str = ""
    endpoints_api_url: str = DEFAULT_ENDPOINTS_API_URL
    batch_size: int = 32
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    #: Text put before each search query; blank means "by model id" (see ``embeddings.prompts``),
    #: ``none`` means no prompt at all.
    query_prompt: str = ""
    #: Text put before each document chunk; same rules as ``query_prompt``.
    document_prompt: str = ""
    #: How the local provider runs its model: ``torch`` (sentence-transformers) or ``onnx-int8``
    #: (ONNX Runtime, partly int8; bundled model only; see ``embeddings.local``).
    local_backend: str = "torch"
    #: How the local provider embeds search queries: ``onnx`` (ONNX Runtime fp32, one thread;
    #: bundled model only, else torch) or ``torch``. See ``embeddings.onnx_query``.
    local_query_backend: str = "onnx"
    #: Folder for the local provider's one-time exports; blank: ``~/.cache/semsearch``.
    local_cache_dir: str = ""

    def prompts(self) -> Prompts:
        """The prompts these settings put in force (``embeddings.prompts``): the one place the
        blank / ``none`` / literal rule is applied, for the providers and the settings page."""
        return resolve_prompts(self.model, self.query_prompt, self.document_prompt)


def resolve_provider(settings: EmbeddingSettings) -> tuple[ProviderName, str]:
    """Which provider is active, and a sentence saying why (shown on start and on /settings)."""
    explicit = settings.provider.strip().lower()
    if explicit:
        if explicit not in PROVIDERS:
            raise EmbeddingConfigError(
                f"EMBEDDINGS_PROVIDER={explicit!r} is not one of {', '.join(PROVIDERS)}",
                setting="EMBEDDINGS_PROVIDER",
            )
        return explicit, f"EMBEDDINGS_PROVIDER is set to {explicit!r}"
    if settings.endpoint.strip():
        return "endpoint", "EMBEDDINGS_ENDPOINT is set"
    if settings.token.get_secret_value().strip():
        return "hf-inference", "HF_TOKEN is set and EMBEDDINGS_ENDPOINT is not"
    return "local", "neither EMBEDDINGS_ENDPOINT nor HF_TOKEN is set"


def resolve_hf_provider(settings: EmbeddingSettings) -> tuple[str, str]:
    """The Inference Provider asked for (``auto`` or a name), and a sentence saying why."""
    explicit = settings.hf_provider.strip().lower()
    if explicit and explicit != "auto":
        if not _PROVIDER_NAME.match(explicit):
            raise EmbeddingConfigError(
                f"EMBEDDINGS_HF_PROVIDER={explicit!r} is not a provider name (auto, hf-inference,"
                " together, scaleway, deepinfra, …)",
                setting="EMBEDDINGS_HF_PROVIDER",
            )
        return explicit, f"EMBEDDINGS_HF_PROVIDER is set to {explicit!r}"
    if not explicit and settings.hf_inference_base_url.strip():
        return "hf-inference", "HF_INFERENCE_BASE_URL is set"
    return "auto", "EMBEDDINGS_HF_PROVIDER is auto"


def hf_inference_base(settings: EmbeddingSettings) -> str:
    """Where hf-inference's routes start: ``HF_INFERENCE_BASE_URL``, else under the router."""
    base = settings.hf_inference_base_url.strip() or f"{settings.router_url.strip()}/hf-inference"
    return base.rstrip("/")


def require_http_url(url: str, setting: str) -> None:
    """Refuse a URL that is not http(s) when the provider is built, naming the setting."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EmbeddingConfigError(f"{setting}={url!r} is not an http(s) URL", setting=setting)
