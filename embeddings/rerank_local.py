"""The ``local`` reranker: a sentence-transformers ``CrossEncoder`` inside this process.

``RERANK_MODEL`` is a cross-encoder's folder or, online, its Hub id (``BAAI/bge-reranker-base``,
``cross-encoder/ms-marco-MiniLM-L6-v2``). No cross-encoder ships with semsearch: the bundled
model is a bi-encoder. Scores are the model's with its own activation (a sigmoid for the usual
one-label rerankers: 0..1), as TEI returns them without ``raw_scores``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embeddings.errors import EmbeddingConfigError

log = logging.getLogger(__name__)


class LocalReranker:
    """A cross-encoder loaded once; ``predict`` is serialised with a lock, as the local
    embeddings provider serialises ``encode`` (the web threads share the cores)."""

    name = "local"

    def __init__(self, model: str, *, batch_size: int = 32, device: str | None = None) -> None:
        self.model_id = model
        self.batch_size = max(1, batch_size)
        folder = Path(model).expanduser()
        self.model_source = str(folder.resolve()) if folder.is_dir() else model
        self._lock = threading.Lock()
        self._model: Any = self._load(device)

    def _load(self, device: str | None) -> Any:
        from sentence_transformers import CrossEncoder

        try:
            model = CrossEncoder(self.model_source, device=device)
        except Exception as exc:  # any loader failure is a configuration problem for the user
            raise EmbeddingConfigError(
                f"cannot load RERANK_MODEL={self.model_id!r} as a cross-encoder (tried "
                f"{self.model_source!r}): {type(exc).__name__}: {exc}. Offline, only a local "
                "model folder can be loaded.",
                setting="RERANK_MODEL",
            ) from exc
        labels = int(getattr(model.model.config, "num_labels", 1) or 1)
        if labels != 1:
            raise EmbeddingConfigError(
                f"RERANK_MODEL={self.model_id!r} has {labels} output labels; a reranker has one "
                "(its relevance score)",
                setting="RERANK_MODEL",
            )
        log.info("local reranker %s loaded from %s", self.model_id, self.model_source)
        return model

    @property
    def max_length(self) -> int:
        """The tokens of one (query, passage) pair the model reads; longer pairs are cut."""
        return int(getattr(self._model, "max_length", None) or 512)

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        pairs = [(query, text) for text in texts]
        with self._lock:
            scores = self._model.predict(
                pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
            )
        return [float(score) for score in scores]

    def close(self) -> None:
        self._model = None
