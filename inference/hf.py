"""Hugging Face's addresses both nodes reach, each the default of its setting."""

from __future__ import annotations

#: ``HF_ROUTER_URL``: the router in front of every Inference Provider, for embeddings
#: (``{router}/{provider}/…``) and chat (``{router}/v1/chat/completions``) alike.
DEFAULT_ROUTER_URL = "https://router.huggingface.co"
#: ``HF_ENDPOINT`` (huggingface_hub's own setting): the Hub, asked which providers serve a model.
DEFAULT_HUB_URL = "https://huggingface.co"
#: ``HF_ENDPOINTS_API_URL``: the Inference Endpoints API (huggingface_hub's
#: ``constants.INFERENCE_ENDPOINTS_ENDPOINT``).
DEFAULT_ENDPOINTS_API_URL = "https://api.endpoints.huggingface.cloud/v2"
