"""The configurable embeddings node: one protocol, three providers (local, hf-inference, endpoint)."""

from embeddings.base import EmbeddingProvider
from embeddings.errors import EmbeddingError
from embeddings.settings import EmbeddingSettings, resolve_provider

__all__ = ["EmbeddingError", "EmbeddingProvider", "EmbeddingSettings", "resolve_provider"]
