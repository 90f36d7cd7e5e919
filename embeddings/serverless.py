"""``hf-inference``: HF's serverless Inference Providers through the router.

The provider's choice and route are ``embeddings.hf_providers``; the requests, retries, batching
and answer checks are ``embeddings.remote.RemoteProvider``'s, as for a dedicated endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from urllib.parse import urlparse

from embeddings import diagnose
from embeddings.base import Vector
from embeddings.errors import EmbeddingConfigError, EmbeddingServiceError
from embeddings.hf_providers import (
    HF_INFERENCE,
    ProviderMappings,
    Route,
    choose,
    hf_inference_route,
)
from embeddings.remote import RETIRED_HOST, RemoteProvider
from embeddings.settings import (
    EmbeddingSettings,
    hf_inference_base,
    require_http_url,
    resolve_hf_provider,
)
from inference.retry import RetryPolicy

log = logging.getLogger("embeddings.remote")


class HFInferenceProvider(RemoteProvider):
    """HF's serverless Inference Providers, through the router (``embeddings.hf_providers``).

    ``EMBEDDINGS_HF_PROVIDER=hf-inference`` POSTs ``{HF_ROUTER_URL}/hf-inference/models/{model}/
    pipeline/feature-extraction`` at once. Any other choice (``auto``, a provider's name) asks
    the Hub which providers serve the model on first use, then POSTs the chosen provider's
    route with the OpenAI body and the provider's own model id. The mapping is kept for the
    process; when the provider answers that the model is gone (404, or 400 "not supported by
    provider"), the Hub is asked again once, and a new route gets the batch again.
    """

    name = "hf-inference"
    url_setting = "HF_ROUTER_URL"

    def __init__(self, settings: EmbeddingSettings, *, retry: RetryPolicy | None = None) -> None:
        model = settings.model.strip()
        if not model:
            raise EmbeddingConfigError(
                "EMBEDDINGS_MODEL is blank; hf-inference needs a model id",
                setting="EMBEDDINGS_MODEL",
            )
        if not settings.token.get_secret_value().strip():
            raise EmbeddingConfigError(
                "HF_TOKEN is not set; the hf-inference provider needs a Hugging Face token",
                setting="HF_TOKEN",
            )
        base = hf_inference_base(settings)
        base_setting = (
            "HF_INFERENCE_BASE_URL" if settings.hf_inference_base_url else "HF_ROUTER_URL"
        )
        require_http_url(base, base_setting)
        if urlparse(base).hostname == RETIRED_HOST:
            raise EmbeddingConfigError(
                f"{RETIRED_HOST} is retired; leave HF_INFERENCE_BASE_URL blank (the router's "
                "https://router.huggingface.co/hf-inference is used)",
                setting="HF_INFERENCE_BASE_URL",
            )
        require_http_url(settings.router_url, "HF_ROUTER_URL")
        require_http_url(settings.hub_url, "HF_ENDPOINT")
        self._requested, reason = resolve_hf_provider(settings)
        self._hf_inference_base = base
        self._router_url = settings.router_url
        self._route_lock = threading.Lock()
        self._route: Route | None = None
        first = hf_inference_route(model, base, reason) if self._requested == HF_INFERENCE else None
        super().__init__(settings, url=first.url if first else base, model_id=model, retry=retry)
        self._mappings = ProviderMappings(settings.hub_url, self._token, self._timeout, self.retry)
        if first is not None:
            self._use(first)

    @property
    def route(self) -> Route:
        """The provider, its model id and its URL; asks the Hub on first use (``auto``)."""
        with self._route_lock:
            if self._route is None:
                self._use(self._choose())
            assert self._route is not None
            return self._route

    @property
    def chosen_route(self) -> Route | None:
        """The route once chosen; None before, or when none could be (nothing is asked)."""
        return self._route

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.route  # noqa: B018 - the route first: batching and the body depend on it
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> Vector:
        self.route  # noqa: B018
        return super().embed_query(text)

    def cache_namespace(self) -> dict[str, object]:
        """hf-inference's as before (its cached vectors stay valid); another provider's with
        the provider and its model id."""
        route = self.route
        namespace = super().cache_namespace()
        if route.provider == HF_INFERENCE:
            return namespace
        return {**namespace, "hf_provider": route.provider, "provider_model": route.provider_id}

    def _choose(self) -> Route:
        mapping = self._mappings.of(self.model_id)
        return choose(
            self.model_id, self._requested, mapping, self._router_url, self._hf_inference_base
        )

    def _use(self, route: Route) -> None:
        self._route = route
        self._retarget(route.url, openai=route.openai, body_model=route.provider_id)

    def _embed_batch(self, texts: list[str]) -> list[Vector]:
        try:
            return super()._embed_batch(texts)
        except EmbeddingServiceError as exc:
            if self._requested == HF_INFERENCE or not _model_gone(exc):
                raise
            old = self.route
            log.warning(
                "embeddings: %s says %s is gone (%s); asking the Hub again",
                old.provider,
                self.model_id,
                exc.message,
            )
            with self._route_lock:
                self._mappings.forget(self.model_id)
                new = self._choose()
                if new == old:
                    raise
                self._use(new)
            return super()._embed_batch(texts)

    def _where(self) -> str:
        route = getattr(self, "_route", None)
        if route is None or route.provider == HF_INFERENCE:
            return f"HF Inference ({self.model_id})"
        return f"Inference Provider {route.provider} ({self.model_id} as {route.provider_id})"


def _model_gone(exc: EmbeddingServiceError) -> bool:
    """The provider no longer serves the model (the Hub's mapping may have moved on)."""
    return exc.status == 404 or (
        exc.status == 400 and diagnose.NOT_BY_PROVIDER.search(exc.message) is not None
    )
