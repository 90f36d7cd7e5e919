"""One small GET to a Hugging Face API (the Hub's model info, the Inference Endpoints list),
with the node's retry policy: what ``hf_providers`` and ``endpoint_namespace`` both ask.

The answer is read under a size cap (a few KB is expected; a larger one is not the API's), a
transient status (``inference.retry.RETRYABLE``) or a broken read is tried again through
``inference.attempts.with_retries``, and a host that cannot be reached is reported at once,
naming the setting that holds its address. Every other status comes back for the caller to word,
with the body's message already stripped of the token.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass

import httpx

from embeddings.errors import EmbeddingResponseError, EmbeddingUnavailableError
from inference.attempts import Transient, transport_problem, unreachable_reason, with_retries
from inference.redact import redact_secrets, redact_url
from inference.retry import RETRYABLE, RetryPolicy, wait_hint
from inference.wire import body_message, read_capped

log = logging.getLogger("embeddings.remote")


@dataclass(frozen=True)
class Answer:
    """A final answer: its status, body, redacted message and request id."""

    status: int
    body: bytes
    message: str
    request_id: str | None


def get_capped(
    url: str,
    *,
    token: str,
    timeout: httpx.Timeout,
    limit: int,
    what: str,
    setting: str,
    policy: RetryPolicy,
    params: dict[str, str] | None = None,
) -> Answer:
    """GET ``url`` with the token as bearer; ``what`` names the API in messages ("the Hub")."""
    headers = {"Accept": "application/json", "User-Agent": "semsearch"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def redact(text: str) -> str:
        return redact_secrets(text, token, url)

    def once() -> Answer:
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=False) as client,
                client.stream("GET", url, params=params, headers=headers) as response,
            ):
                body = read_capped(response, limit)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise EmbeddingUnavailableError(
                f"cannot reach {what} at {redact_url(url)}: {unreachable_reason(url, exc)}; "
                f"check {setting}",
                setting=setting,
            ) from exc
        except httpx.TransportError as exc:
            raise transport_problem(exc, timeout.read or 0.0) from exc
        if body is None:
            raise EmbeddingResponseError(
                f"{what}'s answer is over {limit:,} bytes, more than it ever sends; "
                f"check {setting}",
                setting=setting,
            )
        answer = Answer(
            response.status_code,
            body,
            redact(body_message(body)),
            response.headers.get("x-request-id"),
        )
        if answer.status in RETRYABLE:
            raise Transient(
                f"HTTP {answer.status}: {answer.message}",
                status=answer.status,
                hint=wait_hint(answer.status, response.headers, _json(body)),
                request_id=answer.request_id,
            )
        return answer

    return with_retries(
        once,
        policy=policy,
        deadline=time.monotonic() + policy.deadline_s,
        give_up=lambda why, failed: EmbeddingUnavailableError(
            f"{what} still failing after {why}: {failed.problem}; check {setting}",
            status=failed.status,
            request_id=failed.request_id,
            setting=setting,
        ),
        rng=random.Random(),
        log=log,
        node="embeddings",
        redact=redact,
    )


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None
