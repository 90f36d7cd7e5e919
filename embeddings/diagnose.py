"""Turning a failed embeddings request into an error a user can act on.

Each case gets its own message naming the setting to change, with the ``x-request-id`` when the
server sent one. What the real services answer, and where that was found:

* wrong or expired token: 401 ``{"error": "Invalid credentials in Authorization header"}``
  (huggingface/huggingface_hub#3368);
* out of credits: 402 ``{"error": "You have exceeded your monthly included credits for
  Inference Providers. Subscribe to PRO to get 20x more monthly included credits."}``;
* a model HF Inference does not serve: 404 with a plain-text ``Not Found`` body
  (discuss.huggingface.co, "404 Not Found / Unexpected Token 'N' on Serverless Inference
  Router");
* a model that is not a feature-extraction model: huggingface_hub checks the router's mapping
  and says ``Model 'x' doesn't support task 'feature-extraction'. Supported tasks: '…'``
  (huggingface/huggingface_hub#2967); the legacy API answered ``{"error": "… is not a valid
  pipeline"}`` (huggingface/huggingface.js#1120). Both wordings are recognised, on 400, 404 or 422;
* a paused Inference Endpoint: 400 ``Bad Request: Invalid state`` (elastic/elasticsearch#112033);
* an endpoint scaled to zero: 503 while a replica starts (Inference Endpoints autoscaling guide;
  502 in 2023, huggingface/huggingface_hub#1605), retried like other 5xx, and worded here when
  the retries run out;
* a model still loading: 503 ``{"error", "estimated_time"}``, waited for (``inference.retry``);
* unreachable: connection refused, a host name that does not resolve, or a connect timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from embeddings.errors import EmbeddingServiceError, EmbeddingUnavailableError
from inference.attempts import unreachable_reason
from inference.redact import redact_url

_NOT_EMBEDDINGS = re.compile(
    r"doesn'?t support task|does not support task|not a valid pipeline|not a valid task"
    r"|not supported for task|is not a feature[- ]extraction",
    re.IGNORECASE,
)
# The router, for a provider that does not serve the model: 400 {"error": "Model not supported
# by provider together"} (huggingface/huggingface.js#2225).
NOT_BY_PROVIDER = re.compile(r"not supported by provider", re.IGNORECASE)
_PAUSED = re.compile(r"invalid state|endpoint is paused|\bpaused\b", re.IGNORECASE)


@dataclass(frozen=True)
class Where:
    """Who was asked: the provider kind, how to name it, the model, and the URL's setting."""

    provider: str
    label: str
    model_id: str
    url_setting: str
    #: The settings named when the token or the model is at fault (the reranker has its own).
    token_setting: str = "HF_TOKEN"
    model_setting: str = "EMBEDDINGS_MODEL"


def http_error(
    where: Where, status: int, message: str, request_id: str | None
) -> EmbeddingServiceError:
    """The error for a status that retrying cannot fix (``message`` is already redacted).

    A setting at fault (token, credits, access, model, endpoint) is an
    ``EmbeddingUnavailableError``: every other text would be refused the same way. A request
    rejected as invalid, or refused for a reason not known here, is a plain
    ``EmbeddingServiceError``, about the texts it carried."""
    setting: str | None
    kind: type[EmbeddingServiceError] = EmbeddingUnavailableError
    if status in (400, 404, 422) and _NOT_EMBEDDINGS.search(message):
        text = (
            f"EMBEDDINGS_MODEL={where.model_id!r} is not a feature-extraction (embeddings) "
            "model; choose a sentence-transformers model such as "
            "sentence-transformers/all-MiniLM-L6-v2 or BAAI/bge-small-en-v1.5"
        )
        setting = "EMBEDDINGS_MODEL"
    elif status == 400 and where.provider == "endpoint" and _PAUSED.search(message):
        text = (
            f"the Inference Endpoint at {where.label} is paused: resume it in its settings on "
            f"https://endpoints.huggingface.co (or change {where.url_setting})"
        )
        setting = where.url_setting
    elif status == 401:
        text = (
            f"{where.token_setting} was rejected by {where.label} (missing, invalid or expired "
            "token); create one at https://huggingface.co/settings/tokens"
        )
        setting = where.token_setting
    elif status == 402:
        text = (
            f"out of credits for this {where.token_setting}'s account: add credits or a PRO "
            "plan on huggingface.co, or use EMBEDDINGS_PROVIDER=local"
        )
        setting = where.token_setting
    elif status == 403:
        text = (
            f"{where.token_setting} has no access to {where.model_id} (gated model, or the "
            "token lacks the inference permission)"
        )
        setting = where.token_setting
    elif status == 400 and NOT_BY_PROVIDER.search(message):
        text = (
            f"{where.label} refused the model, though the Hub's mapping still names that "
            "provider for it; choose another EMBEDDINGS_HF_PROVIDER, or auto"
        )
        setting = "EMBEDDINGS_HF_PROVIDER"
    elif status == 404 and where.provider == "hf-inference":
        text = (
            f"model {where.model_id!r} was not found on {where.label} for feature-extraction "
            "(a typo, or a model it does not serve); check EMBEDDINGS_MODEL and "
            "EMBEDDINGS_HF_PROVIDER"
        )
        setting = "EMBEDDINGS_MODEL"
    elif status == 404:
        text = f"endpoint {where.label} was not found; check {where.url_setting}"
        setting = where.url_setting
    elif status == 400:
        text, setting = f"{where.label} rejected the request as invalid", None
        kind = EmbeddingServiceError
    else:
        text, setting = f"{where.label} refused the request", where.url_setting
        kind = EmbeddingServiceError
    return kind(
        f"{text} (HTTP {status}: {message})", status=status, request_id=request_id, setting=setting
    )


def unreachable(where: Where, url: str, exc: httpx.TransportError) -> EmbeddingUnavailableError:
    """Connection refused, a name that does not resolve, or no connection in time."""
    return EmbeddingUnavailableError(
        f"cannot reach {redact_url(url)}: {unreachable_reason(url, exc)}; "
        f"check {where.url_setting}",
        setting=where.url_setting,
    )


def gave_up(
    where: Where,
    *,
    why: str,
    problem: str,
    status: int | None,
    loading: bool,
    request_id: str | None,
) -> EmbeddingUnavailableError:
    """Retries ran out: say what the last answer most likely means. The next text would wait
    out the same retries, so this stops an ingestion too."""
    hint = ""
    setting = where.url_setting
    if loading:
        hint = (
            "; the model is still loading on the server: try again in a minute, or pick an "
            f"{where.model_setting} that is already warm"
        )
        setting = where.model_setting
    elif status in (502, 503) and where.provider == "endpoint":
        hint = (
            "; an Inference Endpoint scaled to zero answers 503 while a replica starts, which "
            "takes minutes: try again shortly, and check the endpoint's state "
            f"({where.url_setting})"
        )
    elif status == 429:
        hint = "; rate limited: wait, or lower SEMSEARCH_INGEST_WORKERS"
    return EmbeddingUnavailableError(
        f"{where.label} still failing after {why}: {problem}{hint}",
        status=status,
        request_id=request_id,
        setting=setting,
    )
