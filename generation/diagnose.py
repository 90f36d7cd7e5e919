"""The text-generation node's errors, worded per cause, each naming the setting to fix.

What the services answer (the Hugging Face router's chat route, TGI, vLLM, llama.cpp, Ollama;
the fake in ``tests/fake_chat.py`` replays these):

* a refused token: 401 ``{"error": "Invalid username or password."}``; no credits left: 402
  ("You have exceeded/depleted your monthly included credits for Inference Providers…"); a
  token without the Inference Providers permission: 403;
* a model no enabled provider serves: 400 in OpenAI's shape, ``{"error": {"message": "The
  requested model '…' is not supported by any provider you have enabled.", "code":
  "model_not_supported"}}``; a provider pinned with a suffix that does not serve it: 400 "…
  not supported by provider X"; a model of another task: 400 "… not supported for task …";
* an unknown model on vLLM: 404 "The model `…` does not exist."; a wrong path: 404;
* a prompt over the model's context: 400 "… maximum context length …";
* loading (503 with ``estimated_time``), rate limits (429 with ``Retry-After``) and 5xx are
  retried before the first token (``inference.attempts``), and worded here when they last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from generation.errors import (
    GenerationError,
    GenerationServiceError,
    GenerationUnavailableError,
)
from inference.attempts import Refusal, Transient, unreachable_reason
from inference.redact import redact_url

_NO_PROVIDER = re.compile(r"not supported by any provider|model_not_supported", re.IGNORECASE)
_NOT_BY_PROVIDER = re.compile(r"not supported by provider\s+['\"]?([\w.-]+)", re.IGNORECASE)
_WRONG_TASK = re.compile(
    r"not supported for task|does not support task|doesn'?t support task|not a chat model",
    re.IGNORECASE,
)
_NO_SUCH_MODEL = re.compile(r"model .* does not exist|model not found|unknown model", re.I)
_TOO_LONG = re.compile(r"context length|too many tokens|maximum context|context window", re.I)
_PAUSED = re.compile(r"invalid state|endpoint is paused|\bpaused\b", re.IGNORECASE)


@dataclass(frozen=True)
class Where:
    """Who was asked: the provider, how to name it, the model, the URL and their settings."""

    provider: str  # "hf" or "endpoint"
    label: str
    model: str
    url: str
    url_setting: str
    token_setting: str


def http_error(where: Where, refused: Refusal) -> GenerationError:
    """A refusal that another attempt would get again."""
    status, message = refused.status, refused.message
    model = where.model or "(none)"

    def unavailable(text: str, setting: str) -> GenerationError:
        return GenerationUnavailableError(
            f"{text} (HTTP {status}: {message})",
            setting=setting,
            status=status,
            request_id=refused.request_id,
        )

    if status == 401:
        return unavailable(f"{where.label} rejected {where.token_setting}", where.token_setting)
    if status == 402:
        return unavailable(
            f"{where.token_setting}'s account is out of credits for Inference Providers: add "
            "credits, pick a cheaper provider (GENERATION_MODEL with :cheapest), or use "
            "GENERATION_ENDPOINT",
            where.token_setting,
        )
    if status == 403:
        return unavailable(
            f"{where.token_setting} may not call {where.label}: give the token the "
            "'Make calls to Inference Providers' permission",
            where.token_setting,
        )
    if _NO_PROVIDER.search(message):
        return unavailable(
            f"no Inference Provider you have enabled serves GENERATION_MODEL={model!r} for "
            "chat: enable one in your Hugging Face settings, or pick another model",
            "GENERATION_MODEL",
        )
    pinned = _NOT_BY_PROVIDER.search(message)
    if pinned:
        return unavailable(
            f"the provider {pinned.group(1)!r} does not serve GENERATION_MODEL={model!r}: drop "
            "its ':provider' suffix (the router then picks one) or pick another model",
            "GENERATION_MODEL",
        )
    if _WRONG_TASK.search(message):
        return unavailable(
            f"GENERATION_MODEL={model!r} is not a chat (text-generation) model", "GENERATION_MODEL"
        )
    if where.provider == "endpoint" and _PAUSED.search(message):
        return unavailable(f"the endpoint is paused: resume it ({where.url_setting})", "")
    if status == 404:
        if _NO_SUCH_MODEL.search(message) or where.provider == "hf":
            return unavailable(
                f"{where.label} does not know GENERATION_MODEL={model!r}", "GENERATION_MODEL"
            )
        return unavailable(
            f"nothing answers chat completions at {redact_url(where.url)}: check "
            f"{where.url_setting} (a base URL ending in /v1)",
            where.url_setting,
        )
    if _TOO_LONG.search(message):
        return GenerationServiceError(
            f"the question and its sources are too long for GENERATION_MODEL={model!r}: "
            f"lower GENERATION_CONTEXT_TOKENS (HTTP {status}: {message})",
            setting="GENERATION_CONTEXT_TOKENS",
            status=status,
            request_id=refused.request_id,
        )
    return GenerationServiceError(
        f"{where.label} refused the request (HTTP {status}: {message})",
        status=status,
        request_id=refused.request_id,
    )


def unreachable(where: Where, exc: httpx.TransportError) -> GenerationError:
    return GenerationUnavailableError(
        f"cannot reach {redact_url(where.url)}: {unreachable_reason(where.url, exc)}; "
        f"check {where.url_setting}",
        setting=where.url_setting,
    )


def gave_up(where: Where, why: str, last: Transient) -> GenerationError:
    """Retries before the first token ran out: what the last answer most likely means."""
    hint, setting = "", where.url_setting
    if last.loading:
        hint = "; the model is still loading: try again in a minute, or pick a warm model"
        setting = "GENERATION_MODEL"
    elif last.status in (502, 503) and where.provider == "endpoint":
        hint = (
            "; an Inference Endpoint scaled to zero answers 503 while a replica starts, which "
            f"takes minutes: try again shortly ({where.url_setting})"
        )
    elif last.status == 429:
        hint = "; rate limited: wait a little, then ask again"
    return GenerationUnavailableError(
        f"{where.label} still failing after {why}: {last.problem}{hint}",
        setting=setting,
        status=last.status,
        request_id=last.request_id,
    )
