"""Build the configured provider: the one place that maps settings to a provider class.

Missing settings are reported here, at start-up, naming the setting, rather than on the first
upload. The local provider's heavy imports (torch, sentence-transformers) only happen when it is
the one chosen.
"""

from __future__ import annotations

from embeddings.base import EmbeddingProvider
from embeddings.errors import EmbeddingConfigError
from embeddings.remote import EndpointProvider, RetryPolicy
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings, resolve_provider


def build_provider(
    settings: EmbeddingSettings, *, retry: RetryPolicy | None = None
) -> EmbeddingProvider:
    """The provider ``resolve_provider`` picks, constructed and ready.

    ``retry`` tunes the HTTP providers' retry waits (tests use small ones); the local provider
    ignores it.
    """
    name, reason = resolve_provider(settings)
    if name == "local":
        from embeddings.local import LocalProvider

        return LocalProvider(settings)
    if name == "hf-inference":
        if not settings.model.strip():
            raise EmbeddingConfigError(
                f"EMBEDDINGS_MODEL is blank, but the hf-inference provider is active ({reason})",
                setting="EMBEDDINGS_MODEL",
            )
        if not settings.token.get_secret_value().strip():
            raise EmbeddingConfigError(
                f"HF_TOKEN is not set, but the hf-inference provider is active ({reason})",
                setting="HF_TOKEN",
            )
        return HFInferenceProvider(settings, retry=retry)
    if not settings.endpoint.strip():
        raise EmbeddingConfigError(
            f"EMBEDDINGS_ENDPOINT is not set, but the endpoint provider is active ({reason})",
            setting="EMBEDDINGS_ENDPOINT",
        )
    return EndpointProvider(settings, retry=retry)
