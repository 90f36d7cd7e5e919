"""What Hugging Face's services answer, as the fake server replays it, and a recorded request.

Each body is what the real service sends (sources in embeddings/diagnose.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_ERRORS: dict[int, Any] = {
    400: {"error": "Bad request", "error_type": "Validation"},
    401: {"error": "Invalid credentials in Authorization header"},
    402: {
        "error": "You have exceeded your monthly included credits for Inference Providers. "
        "Subscribe to PRO to get 20x more monthly included credits."
    },
    403: {"error": "This authentication method does not have sufficient permissions"},
    404: {"error": "Not Found"},
    413: {"error": "Payload too large", "error_type": "Validation"},
    429: {"error": "Rate limit reached. Please retry later."},
    500: {"error": "Internal Server Error"},
    503: {"error": "Model is currently loading", "estimated_time": 0.1},
}
#: What a paused Inference Endpoint answers (status 400).
PAUSED_BODY = {"error": "Bad Request: Invalid state"}
#: What the router answers for a model it does not serve (status 404, plain text).
NOT_FOUND_TEXT = "Not Found"
#: What an Inference Endpoint starting from zero answers meanwhile (status 503; the body is not
#: documented, the status is).
SCALED_TO_ZERO_TEXT = "503 Service Unavailable"
EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-similarity"})


@dataclass
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any

    @property
    def inputs(self) -> list[str]:
        """The texts sent, whatever the body shape (``inputs`` or OpenAI ``input``)."""
        body: dict[str, Any] = self.json if isinstance(self.json, dict) else {}
        value = body.get("inputs", body.get("input"))
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []
