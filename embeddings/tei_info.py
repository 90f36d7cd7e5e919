"""What a text-embeddings-inference (TEI) server says about itself in ``GET /info``.

A TEI server (self-hosted, or behind an HF Inference Endpoint) refuses a request with more
than ``max_client_batch_size`` texts (413), and a text longer than ``max_input_length`` tokens
unless asked to truncate (or started with ``--auto-truncate``). Asking once, on first use, lets
the endpoint provider size its batches right instead of learning from refusals; it also sizes
the per-request token budget from ``max_batch_tokens``.

Anything that is not a TEI answer (an Inference Endpoint with another container answers 404,
a custom handler may answer anything) simply means "no information": the provider then uses its
settings and learns from 413/422 answers as before.

Fields, from TEI's ``router/src/lib.rs`` (``struct Info``): ``model_id``, ``model_sha``,
``max_input_length``, ``max_batch_tokens``, ``max_client_batch_size`` (default 32),
``auto_truncate``, ``version``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

log = logging.getLogger(__name__)

#: Route suffixes of the embedding and rerank routes a user may configure; ``/info`` sits beside
#: them.
ROUTE_SUFFIXES = ("/v1/embeddings", "/embed", "/rerank")


@dataclass(frozen=True)
class TeiInfo:
    """The parts of ``/info`` that change how we send requests."""

    model_id: str | None
    model_sha: str | None
    max_client_batch_size: int | None
    max_batch_tokens: int | None
    max_input_length: int | None
    auto_truncate: bool

    def describe(self) -> str:
        return (
            f"TEI serving {self.model_id or 'an unnamed model'}: "
            f"max_client_batch_size={self.max_client_batch_size}, "
            f"max_batch_tokens={self.max_batch_tokens}, "
            f"max_input_length={self.max_input_length}, auto_truncate={self.auto_truncate}"
        )


def info_url(endpoint: str) -> str:
    """``<root>/info``, the root being the endpoint without ``/embed``, ``/v1/embeddings`` or
    ``/rerank``."""
    parts = urlsplit(endpoint.strip())
    path = parts.path.rstrip("/")
    for suffix in ROUTE_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/info", "", ""))


def parse_info(body: object) -> TeiInfo | None:
    """A :class:`TeiInfo` when ``body`` looks like TEI's ``/info``, else None."""
    if not isinstance(body, dict):
        return None
    batch = _positive_int(body.get("max_client_batch_size"))
    input_length = _positive_int(body.get("max_input_length"))
    if batch is None or input_length is None:
        return None
    model_id = body.get("model_id")
    model_sha = body.get("model_sha")
    return TeiInfo(
        model_id=model_id if isinstance(model_id, str) else None,
        model_sha=model_sha if isinstance(model_sha, str) else None,
        max_client_batch_size=batch,
        max_batch_tokens=_positive_int(body.get("max_batch_tokens")),
        max_input_length=input_length,
        auto_truncate=body.get("auto_truncate") is True,
    )


def fetch_info(
    client: httpx.Client, url: str, headers: dict[str, str]
) -> tuple[TeiInfo | None, bool]:
    """(info, answered): ``answered`` is False when the server could not be reached at all,
    so the caller may ask again later; any HTTP answer that is not TEI's is (None, True)."""
    try:
        resp = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        log.debug("embeddings: %s not reachable (%s)", url, type(exc).__name__)
        return None, False
    if resp.status_code != 200:
        log.debug("embeddings: %s answered HTTP %d: not a TEI server", url, resp.status_code)
        return None, True
    try:
        info = parse_info(resp.json())
    except ValueError:
        info = None
    if info is not None:
        log.info("embeddings: %s", info.describe())
    return info, True


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class InfoOnce:
    """A server's ``/info``, asked on first use and kept; asked again later only when the
    server could not be reached at all. Shared by the threads of one provider."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.known: TeiInfo | None = None
        self._answered = url is None
        self._lock = threading.Lock()

    def get(self, client: httpx.Client, headers: dict[str, str]) -> TeiInfo | None:
        if self._answered or self.url is None:
            return self.known
        with self._lock:
            if not self._answered:
                self.known, self._answered = fetch_info(client, self.url, headers)
        return self.known
