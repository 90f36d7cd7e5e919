"""Text-generation settings, configured like the embeddings node: a credential, a model name, an
endpoint URL, and which of the two kinds of service it is.

``GENERATION_PROVIDER`` is ``hf`` (the Hugging Face router's OpenAI-compatible chat route),
``endpoint`` (any OpenAI-compatible chat server: an HF Inference Endpoint running TGI or vLLM,
llama.cpp's server, Ollama) or ``none``. Left blank it is inferred: ``GENERATION_ENDPOINT`` set
means ``endpoint``; else ``GENERATION_MODEL`` and a token mean ``hf``; else ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from generation.errors import GenerationConfigError
from inference.hf import DEFAULT_ROUTER_URL

ProviderName = Literal["hf", "endpoint", "none"]
PROVIDERS: tuple[ProviderName, ...] = ("hf", "endpoint", "none")
CHAT_PATH = "/chat/completions"


@dataclass(frozen=True)
class GenerationSettings:
    """Typed settings for the text-generation node, built by the app's settings and passed in."""

    provider: str = ""
    #: A Hub id, with any router policy suffix (``:fastest``, ``:cheapest``, ``:<provider>``);
    #: may be blank for an endpoint that serves one model.
    model: str = ""
    #: Base URL ending in ``/v1``, or the full ``…/v1/chat/completions`` URL.
    endpoint: str = ""
    #: ``HF_TOKEN``, unless ``GENERATION_TOKEN`` overrides it for a separate endpoint.
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    #: Which setting the token came from, for the errors that name it.
    token_setting: str = "HF_TOKEN"
    router_url: str = DEFAULT_ROUTER_URL
    max_tokens: int = 512
    temperature: float = 0.2
    #: The budget, in the embedding model's tokens, for the sources put in the prompt.
    context_tokens: int = 3000
    connect_timeout_s: float = 10.0
    #: Longest silence between two pieces of a streamed answer (and for a whole plain one).
    read_timeout_s: float = 60.0
    #: Longest wait for the first token, retries included.
    first_token_timeout_s: float = 120.0
    #: Longest a whole answer may take.
    total_timeout_s: float = 300.0


def resolve_provider(settings: GenerationSettings) -> tuple[ProviderName, str]:
    """Which provider is active, and a sentence saying why (shown on /settings)."""
    explicit = settings.provider.strip().lower()
    if explicit:
        if explicit not in PROVIDERS:
            raise GenerationConfigError(
                f"GENERATION_PROVIDER={explicit!r} is not one of {', '.join(PROVIDERS)}",
                setting="GENERATION_PROVIDER",
            )
        return explicit, f"GENERATION_PROVIDER is set to {explicit!r}"
    if settings.endpoint.strip():
        return "endpoint", "GENERATION_ENDPOINT is set"
    if settings.model.strip() and settings.token.get_secret_value().strip():
        return "hf", f"GENERATION_MODEL and {settings.token_setting} are set"
    return "none", (
        "answers are off: set GENERATION_MODEL (with HF_TOKEN) for the Hugging Face router, "
        "or GENERATION_ENDPOINT for an OpenAI-compatible server"
    )


def chat_url(settings: GenerationSettings, provider: ProviderName) -> str:
    """The chat-completions URL of the provider: the router's, or the endpoint's (a base URL
    ending in ``/v1`` gets ``/chat/completions``; a full URL is taken as it is)."""
    if provider == "hf":
        return settings.router_url.rstrip("/") + "/v1" + CHAT_PATH
    endpoint = settings.endpoint.strip().rstrip("/")
    if not endpoint:
        raise GenerationConfigError(
            "GENERATION_PROVIDER=endpoint needs GENERATION_ENDPOINT (its base URL ending in "
            "/v1, or the full …/v1/chat/completions URL)",
            setting="GENERATION_ENDPOINT",
        )
    return endpoint if endpoint.endswith(CHAT_PATH) else endpoint + CHAT_PATH
