"""The protocol every embeddings provider implements.

The rest of the application (ingestion, search, the CLI) only ever talks to this protocol, so a
provider can be swapped by configuration alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

Vector = list[float]


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into dense vectors.

    ``name`` is the provider kind (``local``, ``hf-inference`` or ``endpoint``).
    ``model_id`` is what a collection records as "the model that filled it": the model name, or
    the endpoint URL when the model name is blank. Vectors are L2-normalised.
    """

    name: str
    model_id: str

    @property
    def dimension(self) -> int:
        """Size of the vectors; probed once on first use for remote providers."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text, in order. Batches internally."""
        ...

    def embed_query(self, text: str) -> Vector:
        """The vector for a search query (some models want a query prompt)."""
        ...

    def close(self) -> None:
        """Release HTTP clients or model memory."""
        ...
