"""Is ``EMBEDDINGS_ENDPOINT`` an Inference Endpoint of ``EMBEDDINGS_ENDPOINT_NAMESPACE``, serving
``EMBEDDINGS_MODEL``, and up? Dify's Hugging Face provider asks for the user or
organisation name with an endpoint and checks this when the credential is saved.

``GET {HF_ENDPOINTS_API_URL}/endpoint/{namespace}`` (default
``https://api.endpoints.huggingface.cloud/v2``) lists the namespace's endpoints as ``{"items":
[{"name", "model": {"repository", ...}, "status": {"state", "url", ...}, ...}]}``
(huggingface_hub ``HfApi.list_inference_endpoints``, ``InferenceEndpoint._populate_from_raw``).
The request is made here rather than through that helper because its API address is a constant
(``constants.INFERENCE_ENDPOINTS_ENDPOINT``), not a setting, and its parser needs every field of
every item, where this check reads four and reports a malformed item rather than failing on it.

Each disagreement has its own message naming the setting to fix: an unknown namespace
(``EMBEDDINGS_ENDPOINT_NAMESPACE``), a URL that is none of its endpoints'
(``EMBEDDINGS_ENDPOINT``), another model (``EMBEDDINGS_MODEL``, naming the endpoint's), and a
state that will not answer (paused, failed, still starting), with how to resume a paused one.
A scaled-to-zero endpoint is no error: it wakes on the next request, which the endpoint
provider holds for (``X-Scale-Up-Timeout``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingResponseError,
    EmbeddingUnavailableError,
)
from embeddings.hf_api import get_capped
from embeddings.settings import EmbeddingSettings
from inference.redact import redact_url
from inference.retry import RetryPolicy
from inference.wire import shorten

_MAX_ANSWER_BYTES = 5_000_000
_STARTING = frozenset({"pending", "initializing", "updating"})


@dataclass(frozen=True)
class EndpointFound:
    """The namespace's endpoint at ``EMBEDDINGS_ENDPOINT``, as the Endpoints API describes it."""

    namespace: str
    name: str
    repository: str
    state: str
    #: Said when the endpoint is up but worth knowing about (scaled to zero).
    note: str | None = None


def find_endpoint(settings: EmbeddingSettings) -> EndpointFound:
    """``EMBEDDINGS_ENDPOINT`` among ``EMBEDDINGS_ENDPOINT_NAMESPACE``'s Inference Endpoints,
    checked; raises an ``EmbeddingError`` naming the setting at fault."""
    api_url = settings.endpoints_api_url.rstrip("/")
    namespace = settings.endpoint_namespace
    endpoint_url = settings.endpoint.strip()
    model = settings.model.strip()
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    items = _list(api_url, namespace, settings.token.get_secret_value().strip(), timeout)
    wanted = _comparable(endpoint_url)
    found = next((item for item in items if _comparable(item["url"]) and _owns(item, wanted)), None)
    if found is None:
        listed = ", ".join(f"{i['name']} ({i['url'] or 'no URL yet'})" for i in items) or "none"
        raise EmbeddingConfigError(
            f"EMBEDDINGS_ENDPOINT={redact_url(endpoint_url)!r} is not the URL of an Inference "
            f"Endpoint of {namespace!r} (its endpoints: {listed}); check EMBEDDINGS_ENDPOINT",
            setting="EMBEDDINGS_ENDPOINT",
        )
    name, repository, state = found["name"], found["repository"], found["state"]
    if model and repository and repository != model:
        raise EmbeddingConfigError(
            f"the Inference Endpoint {name!r} serves {repository!r}, not "
            f"EMBEDDINGS_MODEL={model!r}; set EMBEDDINGS_MODEL={repository} (or point "
            "EMBEDDINGS_ENDPOINT at the endpoint that serves it)",
            setting="EMBEDDINGS_MODEL",
        )
    resume = f"https://endpoints.huggingface.co/{quote(namespace)}/endpoints/{quote(name)}"
    if state == "paused":
        raise EmbeddingUnavailableError(
            f"the Inference Endpoint {name!r} is paused: resume it on its page ({resume}, "
            f'"Resume endpoint"), or with POST {api_url}/endpoint/'
            f"{quote(namespace)}/{quote(name)}/resume",
            setting="EMBEDDINGS_ENDPOINT",
        )
    if state in ("failed", "updateFailed"):
        raise EmbeddingUnavailableError(
            f"the Inference Endpoint {name!r} is in state {state!r}: see its logs ({resume})",
            setting="EMBEDDINGS_ENDPOINT",
        )
    if state in _STARTING:
        raise EmbeddingUnavailableError(
            f"the Inference Endpoint {name!r} is still starting (state {state!r}): try again in "
            f"a few minutes ({resume})",
            setting="EMBEDDINGS_ENDPOINT",
        )
    note = None
    if state == "scaledToZero":
        note = (
            f"the Inference Endpoint {name!r} is scaled to zero: the next request wakes it, "
            "which takes a few minutes"
        )
    return EndpointFound(namespace, name, repository, state, note)


def _list(api_url: str, namespace: str, token: str, timeout: httpx.Timeout) -> list[dict[str, str]]:
    answer = get_capped(
        f"{api_url}/endpoint/{quote(namespace, safe='')}",
        token=token,
        timeout=timeout,
        limit=_MAX_ANSWER_BYTES,
        what="the Inference Endpoints API",
        setting="HF_ENDPOINTS_API_URL",
        policy=RetryPolicy(),
    )
    status, message = answer.status, answer.message
    if status in (401, 403, 404):
        raise EmbeddingConfigError(
            f"EMBEDDINGS_ENDPOINT_NAMESPACE={namespace!r} is not a user or organisation whose "
            f"Inference Endpoints this HF_TOKEN can list (HTTP {status}: {message}); check the "
            "name, and that the token belongs to it",
            setting="EMBEDDINGS_ENDPOINT_NAMESPACE",
        )
    if not 200 <= status < 300:
        raise EmbeddingUnavailableError(
            f"the Inference Endpoints API answered HTTP {status} ({message}) when listing "
            f"{namespace!r}; check HF_ENDPOINTS_API_URL",
            status=status,
            request_id=answer.request_id,
            setting="HF_ENDPOINTS_API_URL",
        )
    return _items(answer.body)


def _items(body: bytes) -> list[dict[str, str]]:
    """``name``, ``repository``, ``state`` and ``url`` of each listed endpoint."""
    try:
        data = json.loads(body)
        raw = data["items"] if isinstance(data, dict) else None
        if not isinstance(raw, list):
            raise TypeError("no list under 'items'")
        return [_item(entry) for entry in raw]
    except (ValueError, TypeError, KeyError) as exc:
        raise EmbeddingResponseError(
            f"the Inference Endpoints API's answer could not be read ({shorten(str(exc))}); "
            "check HF_ENDPOINTS_API_URL",
            setting="HF_ENDPOINTS_API_URL",
        ) from exc


def _item(entry: Any) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise TypeError(f"an item is a {type(entry).__name__}, not an object")
    model = entry.get("model")
    model = model if isinstance(model, dict) else {}
    status = entry.get("status")
    status = status if isinstance(status, dict) else {}
    return {
        "name": str(entry.get("name") or "?"),
        "repository": str(model.get("repository") or ""),
        "state": str(status.get("state") or "unknown"),
        "url": str(status.get("url") or ""),
    }


def _comparable(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _owns(item: dict[str, str], wanted: str) -> bool:
    """``EMBEDDINGS_ENDPOINT`` is the endpoint's URL, or a route under it (``/v1/embeddings``)."""
    base = _comparable(item["url"])
    return wanted == base or wanted.startswith(base + "/")
