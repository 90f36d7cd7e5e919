"""The error message in what an inference service answered, whatever its shape."""

from __future__ import annotations

import json

import httpx

_MAX_MESSAGE = 300


def error_message(body: object) -> str | None:
    """The human-readable error in an error body, or None when ``body`` is not an error object.

    Knows the HF router / TEI shape ``{"error": "...", "error_type": ...}``, the OpenAI shape
    ``{"error": {"message": ...}}`` and TEI's OpenAI routes ``{"message", "code", "type"}``.
    """
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        err = err.get("message") or err
    if err is None and "message" in body and "data" not in body:
        err = body["message"]
    if err is None:
        return None
    text = err if isinstance(err, str) else str(err)
    if isinstance(err, list):  # HF sometimes returns a list of messages
        text = "; ".join(str(e) for e in err)
    return shorten(text)


def shorten(text: str) -> str:
    """One line of at most 300 characters, for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def body_message(body: bytes) -> str:
    """The error message in a raw answer body: JSON or plain text, one short line."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return shorten(body.decode("utf-8", "replace")) or "no body"
    return error_message(decoded) or shorten(str(decoded)) or "no body"


def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """A streamed answer's body, or None once it passes ``limit`` bytes (nothing more is read)."""
    data = bytearray()
    for chunk in response.iter_bytes():
        data.extend(chunk)
        if len(data) > limit:
            return None
    return bytes(data)
