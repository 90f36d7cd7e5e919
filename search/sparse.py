"""BM25 sparse vectors, computed in the process by Qdrant Edge's own tokenizer.

Both engines (Edge and a Qdrant server) receive vectors from this one encoder, so a document
ingested through one and searched through the other gives the same tokens and the same scores.
The IDF part of BM25 is applied by Qdrant at query time (the ``bm25`` vector has the IDF
modifier), so these vectors only carry term frequencies (documents) or ones (queries).
"""

from __future__ import annotations

import qdrant_edge

from search.store import SparseVector

LANGUAGE = "english"


class Bm25Encoder:
    """Turns text into BM25 sparse vectors: ``embed_document`` for stored text, ``embed_query``
    for queries (each unique query token weighs 1.0). Stateless and safe to share between threads.
    """

    def __init__(self, language: str = LANGUAGE) -> None:
        self._model = qdrant_edge.Bm25(qdrant_edge.Bm25Config(language=language))

    def embed_document(self, text: str) -> SparseVector:
        return _convert(self._model.embed_document(text))

    def embed_query(self, text: str) -> SparseVector:
        """May be empty (no indices) for a query made only of stopwords."""
        return _convert(self._model.embed_query(text))


def _convert(vector: qdrant_edge.SparseVector) -> SparseVector:
    return SparseVector(indices=list(vector.indices), values=list(vector.values))
