"""The configurable embeddings node: one protocol, three providers.

The providers are ``local``, ``hf-inference`` and ``endpoint``.
"""

from embeddings.base import EmbeddingProvider
from embeddings.errors import EmbeddingError
from embeddings.settings import EmbeddingSettings, resolve_provider

__all__ = ["EmbeddingError", "EmbeddingProvider", "EmbeddingSettings", "resolve_provider"]
