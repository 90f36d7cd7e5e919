"""Parsing what embedding servers return, shared by the HTTP providers.

Servers disagree on shapes: the HF router and TEI answer ``[n][dim]`` (pooled) or
``[n][tokens][dim]`` (token-level models), some answer a bare ``[dim]`` for a single input, and
OpenAI-style routes answer ``{"data": [{"embedding": [...], "index": i}]}``. Everything here is
strict on purpose: other clients have parsed ``{"error": ...}`` bodies as vectors, or silently
accepted the wrong number of rows, and then stored garbage. A body that is not exactly one finite
vector per text is rejected with :class:`EmbeddingResponseError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embeddings.base import Vector
from embeddings.errors import EmbeddingResponseError
from inference.wire import error_message, shorten


def parse_vectors(body: object, expected: int) -> list[Vector]:
    """``expected`` unit vectors from a decoded JSON body, or :class:`EmbeddingResponseError`.

    Token-level output is mean-pooled per text. HF returns each text's tokens as its own
    (ragged, unpadded) list, so the plain mean over that list is the attention-masked mean.
    """
    if expected < 1:
        raise ValueError("expected must be at least 1")
    message = error_message(body)
    if message is not None:
        raise EmbeddingResponseError(f"the server answered with an error: {message}")
    if isinstance(body, dict):
        rows = _openai_rows(body)
    elif isinstance(body, list):
        rows = body
    else:
        raise EmbeddingResponseError(
            f"expected a JSON list of vectors, got {type(body).__name__}: {_preview(body)}"
        )
    if not rows:
        raise EmbeddingResponseError(f"the server returned no vectors for {expected} text(s)")
    if _is_number(rows[0]):
        # A bare [dim]: only meaningful when exactly one text was sent.
        if expected != 1:
            raise EmbeddingResponseError(
                f"the server returned a single flat vector for {expected} texts"
            )
        rows = [rows]
    if len(rows) != expected:
        raise EmbeddingResponseError(
            f"the server returned {len(rows)} vectors for {expected} texts"
        )
    pooled = [_pool_row(row, i) for i, row in enumerate(rows)]
    dims = {len(v) for v in pooled}
    if len(dims) != 1:
        raise EmbeddingResponseError(
            f"the server returned vectors of inconsistent dimensions {sorted(dims)}"
        )
    matrix = np.stack(pooled)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise EmbeddingResponseError("the server returned an all-zero vector")
    unit: list[Vector] = (matrix / norms).tolist()
    return unit


def _openai_rows(body: dict[str, Any]) -> list[Any]:
    data = body.get("data")
    if not isinstance(data, list):
        raise EmbeddingResponseError(
            f"expected vectors, got a JSON object with keys {sorted(body)[:8]}"
        )
    indexed: list[tuple[int, Any]] = []
    for position, item in enumerate(data):
        if not isinstance(item, dict) or "embedding" not in item:
            raise EmbeddingResponseError(
                f"data[{position}] is not an object with an 'embedding': {_preview(item)}"
            )
        index = item.get("index", position)
        if not isinstance(index, int) or isinstance(index, bool):
            raise EmbeddingResponseError(f"data[{position}].index is not an integer: {index!r}")
        indexed.append((index, item["embedding"]))
    indices = sorted(i for i, _ in indexed)
    if indices != list(range(len(indexed))):
        raise EmbeddingResponseError(f"data indices are not 0..{len(indexed) - 1}: {indices[:10]}")
    return [embedding for _, embedding in sorted(indexed, key=lambda pair: pair[0])]


def _pool_row(row: object, i: int) -> np.ndarray:
    """One text's vector: the row itself, or the mean of its token vectors."""
    if not isinstance(row, list) or not row:
        raise EmbeddingResponseError(f"vector {i} is not a non-empty list: {_preview(row)}")
    try:
        arr = np.asarray(row)
    except ValueError as exc:  # ragged token vectors within one text
        raise EmbeddingResponseError(
            f"vector {i} has token vectors of inconsistent dimensions"
        ) from exc
    if arr.dtype.kind not in "iuf" or arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise EmbeddingResponseError(
            f"vector {i} is not a list of numbers (or of token vectors): {_preview(row)}"
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise EmbeddingResponseError(f"vector {i} contains NaN or infinite values")
    return arr if arr.ndim == 1 else arr.mean(axis=0)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _preview(value: object) -> str:
    return shorten(repr(value))[:120]
