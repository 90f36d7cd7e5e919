"""Which Hugging Face Inference Provider embeds a model through the router, and at what address.

Since 2025 HF's own ``hf-inference`` serves few models; the Hub routes feature-extraction to
other providers (Together, Scaleway, DeepInfra at the time of writing), each knowing the model
by its own id. As huggingface_hub's ``InferenceClient(provider="auto")`` does, the Hub is asked
which providers serve the model, ``GET {HF_ENDPOINT}/api/models/{id}?expand[]=
inferenceProviderMapping``, with the user's token, so that its order is the user's preference
order (https://hf.co/settings/inference-providers). The answer is read by huggingface_hub's own
``ModelInfo``, which accepts both the dict-by-provider shape and the list shape; the request is
made by ``embeddings.hf_api`` (the node's timeouts, retry policy, a size cap and error
wording), because huggingface_hub's ``HfApi`` refuses every call under ``HF_HUB_OFFLINE``
(which a machine running the local model often sets) and raises its own exceptions.

The choice, unlike huggingface_hub's (which takes the first entry whatever its task or status):
the first entry, in the Hub's order, that serves feature-extraction and is ``live``. An explicit
``EMBEDDINGS_HF_PROVIDER`` takes that provider's entry, and fails, naming the setting, when the
provider does not serve the model, serves it for another task, or only in ``staging``.

Routes (huggingface_hub's provider helpers, ``inference/_providers``, asked by
``router_path``; 2026-08): ``hf-inference`` is
``{HF_ROUTER_URL}/hf-inference/models/{hub id}/pipeline/feature-extraction`` with the HF body
``{"inputs": [...]}``; ``deepinfra`` is ``/deepinfra/v1/openai/embeddings``; every other provider
(``together``, ``scaleway``, …) is ``/{provider}/v1/embeddings``; all but hf-inference take the
OpenAI body ``{"input": [...], "model": provider id}``. hf-inference never needs the mapping
(huggingface_hub does not read it either): the Hub id is its id.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingResponseError,
    EmbeddingUnavailableError,
)
from embeddings.hf_api import get_capped
from inference.redact import redact_url
from inference.retry import RetryPolicy
from inference.wire import shorten

AUTO = "auto"
HF_INFERENCE = "hf-inference"
FEATURE_EXTRACTION = "feature-extraction"
#: hf-inference serves a sentence-transformers model under either task (huggingface_hub's
#: ``_check_supported_task``; huggingface.js's ``EQUIVALENT_SENTENCE_TRANSFORMERS_TASKS``).
_HF_INFERENCE_TASKS = frozenset({FEATURE_EXTRACTION, "sentence-similarity"})
#: Router paths that are not ``/v1/embeddings``, should huggingface_hub's helper be missing.
_PATHS = {"deepinfra": "/v1/openai/embeddings"}
#: The mapping of one model is a few hundred bytes; a larger answer is not the Hub's.
_MAX_ANSWER_BYTES = 1_000_000
MODELS_PAGE = "https://huggingface.co/models?pipeline_tag=feature-extraction&inference_provider=all"


@dataclass(frozen=True)
class Served:
    """One entry of the Hub's mapping: ``provider`` serves the model as ``provider_id``."""

    provider: str
    provider_id: str
    status: str
    task: str

    def embeds(self) -> bool:
        tasks = _HF_INFERENCE_TASKS if self.provider == HF_INFERENCE else {FEATURE_EXTRACTION}
        return self.task in tasks


@dataclass(frozen=True)
class Route:
    """Where the model's embeddings are asked for, and why there."""

    provider: str
    #: The provider's own name for the model (the Hub id for hf-inference).
    provider_id: str
    url: str
    #: The OpenAI body and answer (every provider but hf-inference).
    openai: bool
    reason: str


def hf_inference_route(model: str, base: str, reason: str) -> Route:
    """hf-inference's route for ``model`` under ``base`` (``{HF_ROUTER_URL}/hf-inference``)."""
    url = f"{base.rstrip('/')}/models/{quote(model, safe='/')}/pipeline/feature-extraction"
    return Route(HF_INFERENCE, model, url, openai=False, reason=reason)


def choose(
    model: str, requested: str, mapping: list[Served], router_url: str, hf_inference_base: str
) -> Route:
    """The route for ``model`` given the Hub's ``mapping``, or an error naming the setting."""
    if requested != AUTO:
        return _explicit(model, requested, mapping, router_url, hf_inference_base)
    embedding = [entry for entry in mapping if entry.embeds()]
    if not embedding:
        served = f" (the Hub maps it to: {_listed(mapping)})" if mapping else ""
        raise EmbeddingConfigError(
            f"EMBEDDINGS_MODEL={model!r} is served by no Inference Provider for "
            f"feature-extraction{served}; choose an embeddings model that one serves "
            f"({MODELS_PAGE}), or use EMBEDDINGS_PROVIDER=local",
            setting="EMBEDDINGS_MODEL",
        )
    live = [entry for entry in embedding if entry.status == "live"]
    if not live:
        raise EmbeddingConfigError(
            f"EMBEDDINGS_MODEL={model!r} is served for feature-extraction only in staging "
            f"({_listed(embedding)}), which is not for use; choose another EMBEDDINGS_MODEL",
            setting="EMBEDDINGS_MODEL",
        )
    first = live[0]
    others = [entry.provider for entry in live[1:]]
    reason = (
        "EMBEDDINGS_HF_PROVIDER is auto: the first live provider for feature-extraction in the"
        " Hub's mapping, in this token's order"
        + (f" (then: {', '.join(others)})" if others else "")
    )
    return _route(model, first, router_url, hf_inference_base, reason)


def _explicit(
    model: str, requested: str, mapping: list[Served], router_url: str, hf_inference_base: str
) -> Route:
    reason = f"EMBEDDINGS_HF_PROVIDER is set to {requested!r}"
    entry = next((entry for entry in mapping if entry.provider == requested), None)
    if entry is None:
        served = _listed(mapping) or "no provider at all"
        raise EmbeddingConfigError(
            f"EMBEDDINGS_HF_PROVIDER={requested!r} does not serve EMBEDDINGS_MODEL={model!r} "
            f"(the Hub maps it to: {served}); choose one of those, or auto",
            setting="EMBEDDINGS_HF_PROVIDER",
        )
    if not entry.embeds():
        raise EmbeddingConfigError(
            f"EMBEDDINGS_HF_PROVIDER={requested!r} serves EMBEDDINGS_MODEL={model!r} for "
            f"{entry.task}, not feature-extraction; choose an embeddings model",
            setting="EMBEDDINGS_MODEL",
        )
    if entry.status != "live":
        raise EmbeddingConfigError(
            f"EMBEDDINGS_HF_PROVIDER={requested!r} serves EMBEDDINGS_MODEL={model!r} only in "
            f"{entry.status!r}, which is not for use; choose another provider, or auto",
            setting="EMBEDDINGS_HF_PROVIDER",
        )
    return _route(model, entry, router_url, hf_inference_base, reason)


def _route(model: str, entry: Served, router_url: str, hf_inference_base: str, why: str) -> Route:
    if entry.provider == HF_INFERENCE:
        return hf_inference_route(model, hf_inference_base, why)
    path = router_path(entry.provider, entry.provider_id)
    url = f"{router_url.rstrip('/')}/{quote(entry.provider, safe='')}{path}"
    return Route(entry.provider, entry.provider_id, url, openai=True, reason=why)


def router_path(provider: str, provider_id: str) -> str:
    """The provider's embeddings route on the router, as huggingface_hub's own helper for the
    task builds it (``get_provider_helper(...)._prepare_route``), so that the providers' path
    quirks are huggingface_hub's; a provider it does not know for feature-extraction (the Hub
    may map newer ones) gets the OpenAI route ``/v1/embeddings``."""
    from huggingface_hub.inference._providers import get_provider_helper

    try:
        # A name the Hub maps may be one huggingface_hub's type does not list: it then raises.
        helper = get_provider_helper(
            provider,  # type: ignore[arg-type]
            task=FEATURE_EXTRACTION,
            model=provider_id,
        )
        path = helper._prepare_route(provider_id, "")
    except (ValueError, AttributeError, TypeError, NotImplementedError):
        return _PATHS.get(provider, "/v1/embeddings")
    return path if isinstance(path, str) and path.startswith("/") else "/v1/embeddings"


def _listed(entries: list[Served]) -> str:
    return ", ".join(
        f"{entry.provider} for {entry.task}"
        + ("" if entry.status == "live" else f" ({entry.status})")
        for entry in entries
    )


class ProviderMappings:
    """The Hub's provider mapping of each model, asked once per process and kept until a
    provider says the model is gone (``forget``). Safe to share between threads."""

    def __init__(
        self, hub_url: str, token: str, timeout: httpx.Timeout, policy: RetryPolicy
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._policy = policy
        self._known: dict[str, list[Served]] = {}
        self._lock = threading.Lock()

    def of(self, model: str) -> list[Served]:
        with self._lock:
            if model not in self._known:
                self._known[model] = self._fetch(model)
            return self._known[model]

    def forget(self, model: str) -> None:
        with self._lock:
            self._known.pop(model, None)

    def _fetch(self, model: str) -> list[Served]:
        answer = get_capped(
            f"{self.hub_url}/api/models/{quote(model, safe='/')}",
            params={"expand[]": "inferenceProviderMapping"},
            token=self._token,
            timeout=self._timeout,
            limit=_MAX_ANSWER_BYTES,
            what="the Hub",
            setting="HF_ENDPOINT",
            policy=self._policy,
        )
        status, message = answer.status, answer.message
        if status == 401:
            raise EmbeddingUnavailableError(
                f"HF_TOKEN was rejected by the Hub when asking which Inference Provider serves "
                f"{model!r} (HTTP 401: {message})",
                status=status,
                request_id=answer.request_id,
                setting="HF_TOKEN",
            )
        if status == 404:
            raise EmbeddingConfigError(
                f"EMBEDDINGS_MODEL={model!r} is not a model on the Hub "
                f"({redact_url(self.hub_url)}; HTTP 404: {message}); check its spelling",
                setting="EMBEDDINGS_MODEL",
            )
        if not 200 <= status < 300:
            raise EmbeddingUnavailableError(
                f"the Hub ({redact_url(self.hub_url)}) could not say which Inference Provider "
                f"serves {model!r} (HTTP {status}: {message}); check HF_ENDPOINT",
                status=status,
                request_id=answer.request_id,
                setting="HF_ENDPOINT",
            )
        return parse_mapping(model, answer.body)


def parse_mapping(model: str, body: bytes) -> list[Served]:
    """The entries of a model-info answer, in the Hub's order, read by huggingface_hub's
    ``ModelInfo`` (both shapes). No mapping at all is an empty list."""
    from huggingface_hub.hf_api import ModelInfo

    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        info = ModelInfo(id=model, inferenceProviderMapping=data.get("inferenceProviderMapping"))
        entries = [
            Served(str(m.provider), str(m.provider_id), str(m.status), str(m.task))
            for m in info.inference_provider_mapping or []
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise EmbeddingResponseError(
            f"the Hub's provider mapping for {model!r} could not be read ({type(exc).__name__}: "
            f"{shorten(str(exc))}); check HF_ENDPOINT",
            setting="HF_ENDPOINT",
        ) from exc
    return entries
