"""The HTTP providers' machinery, and ``endpoint`` (a dedicated Inference Endpoint or TEI).

Both speak the same wire format, so they share :class:`RemoteProvider`, which does what the
anchors (Flowise, LangChain, Haystack, ...) did not: explicit connect/read timeouts, batching by
count, bytes and (from TEI's ``/info``) tokens, bounded retries with backoff and jitter for the
statuses that are worth retrying (503/424 model loading, 429 rate limit, 5xx), batch splitting
on 413, one truncation retry on "must have less than N tokens", no retry at all for
400/401/402/403/404, a strict shape check of every answer and a dimension guard across calls.

Neighbouring modules hold the parts that read on their own: ``batching`` (limits and token
estimates), ``tei_info`` (``GET /info``), ``prompts`` (query/document prompts), ``diagnose``
(error wording), ``retry`` (when and how long to wait), ``wire`` (response shapes).

The token only ever goes into the ``Authorization`` header of a request; every message built here
passes through :meth:`RemoteProvider._redact` in case a server echoes it back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import httpx

from embeddings import diagnose
from embeddings.base import Vector
from embeddings.batching import batches, cut_to_fit, estimate_tokens, map_bounded
from embeddings.errors import (
    DimensionMismatchError,
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingServiceError,
    scrub,
)
from embeddings.request import LearnedBatch, Sender, TooLong, send_in_parts
from embeddings.settings import EmbeddingSettings, require_http_url
from embeddings.tei_info import InfoOnce, TeiInfo, info_url
from embeddings.wire import parse_vectors
from inference.redact import redact_secrets, redact_url
from inference.retry import RetryPolicy

log = logging.getLogger(__name__)

PROBE_TEXT = "dimension probe"
RETIRED_HOST = "api-inference.huggingface.co"
#: Inference Endpoints hold a request this long while a scaled-to-zero endpoint starts.
SCALE_UP_HEADER = "X-Scale-Up-Timeout"
HF_ENDPOINTS_DOMAIN = ".endpoints.huggingface.cloud"


class RemoteProvider:
    """Shared HTTP machinery; subclasses choose the URL, the body shape and error wording."""

    name: str = "remote"
    #: The setting that holds the URL, named in "cannot reach" messages.
    url_setting: str = "EMBEDDINGS_ENDPOINT"
    #: Send ``"truncate": true`` from the first request. The router gets it always (its error
    #: wording for over-long texts is not documented, and a refusal costs a round trip); an
    #: endpoint only when a text needs it: TEI's ``/info`` says so, or a refusal taught us.
    truncate_up_front: bool = True

    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        url: str,
        model_id: str,
        openai: bool = False,
        retry: RetryPolicy | None = None,
        info_url: str | None = None,
    ) -> None:
        self.url = url
        self.model_id = model_id
        self.model = settings.model.strip()
        self.openai = openai
        self.batch_size = max(1, settings.batch_size)
        self.retry = retry or RetryPolicy()
        self.prompts = settings.prompts()
        self._token = settings.token.get_secret_value().strip()
        self._timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.read_timeout_s,
            pool=settings.read_timeout_s,
        )
        self._client = httpx.Client(
            timeout=self._timeout,
            headers={"Accept": "application/json", "User-Agent": "semsearch"},
            follow_redirects=False,
        )
        self._extra_headers: dict[str, str] = {}
        self._read_timeout_s = settings.read_timeout_s
        #: The ``model`` of an OpenAI body (a router provider's own id for the model).
        self.body_model = self.model
        self._sender = self._new_sender()
        self._dimension: int | None = None
        self._dim_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._learned = LearnedBatch()
        self._truncate_learned = False
        self._info = InfoOnce(info_url)

    def _new_sender(self) -> Sender:
        return Sender(
            client=self._client,
            url=self.url,
            retry=self.retry,
            whom=diagnose.Where(self.name, self._where(), self.model_id, self.url_setting),
            headers=self._headers,
            redact=self._redact,
            read_timeout_s=self._read_timeout_s,
        )

    def _retarget(self, url: str, *, openai: bool, body_model: str) -> None:
        """Send from now on to ``url`` in that format (a router provider chose its route)."""
        self.url, self.openai, self.body_model = url, openai, body_model
        self._sender = self._new_sender()

    # -- the protocol -----------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        """Probed once with one short text on first access, then cached."""
        with self._probe_lock:
            if self._dimension is None:
                self.embed_documents([PROBE_TEXT])
            assert self._dimension is not None
            return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """One unit vector per text, in order, with the document prompt, in bounded batches."""
        prompt = self.prompts.document
        prepared = [prompt + text for text in texts]
        info = self.server_info()
        planned = list(
            batches(
                prepared,
                self._max_texts,
                max_tokens=info.max_batch_tokens if info else None,
                token_cap=info.max_input_length if info else None,
            )
        )
        results = map_bounded(self._embed_batch, planned, limit=self.retry.max_concurrency)
        return [vector for batch in results for vector in batch]

    def embed_query(self, text: str) -> Vector:
        """The query with the query prompt in front (``embeddings.prompts``)."""
        self.server_info()
        return self._embed_batch([self.prompts.query + text])[0]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def server_info(self) -> TeiInfo | None:
        """TEI's ``/info``, asked once on first use (endpoint provider only); None otherwise."""
        return self._info.get(self._client, self._headers())

    def cache_namespace(self) -> dict[str, object]:
        """Everything that decides a document's vector here, for ``embeddings.cache``."""
        info = self.server_info()
        return {
            "provider": self.name,
            "model": self.model_id,
            "url": self.url,
            "format": "openai" if self.openai else "hf",
            "document_prompt": self.prompts.document,
            "normalize": True,
            "truncate": "server",
            "served_model": info.model_id if info else None,
            "served_revision": info.model_sha if info else None,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_id={self.model_id!r}, url={redact_url(self.url)!r}, "
            f"token={'set' if self._token else 'not set'})"
        )

    # -- batching ---------------------------------------------------------------------------

    def _max_texts(self) -> int:
        """Texts per request: the setting, capped by TEI's ``/info`` and what a 413 taught."""
        limits = [self.batch_size]
        if self._learned.limit:
            limits.append(self._learned.limit)
        if (info := self._info.known) and info.max_client_batch_size:
            limits.append(info.max_client_batch_size)
        return min(limits)

    def _embed_batch(self, texts: list[str]) -> list[Vector]:
        deadline = time.monotonic() + self.retry.deadline_s
        try:
            vectors = self._post_splitting(texts, deadline)
            self._check_dimension(vectors)
        except EmbeddingError as exc:
            self._scrub(exc)
            raise
        return vectors

    def _post_splitting(self, texts: list[str], deadline: float) -> list[Vector]:
        return send_in_parts(
            texts,
            lambda part: self._post_fitting(part, deadline),
            self._learned,
            lambda: EmbeddingServiceError(
                f"{self._where()} refused a single text as too large (HTTP 413); "
                "the text is longer than the server accepts",
                status=413,
                setting=self.url_setting,
            ),
        )

    def _post_fitting(self, texts: list[str], deadline: float) -> list[Vector]:
        """Post; on "must have less than N tokens", retry once with ``truncate: true``, then
        once more with the texts cut client-side. Never more: a third refusal is an error."""
        truncate = self._wants_truncate(texts)
        try:
            return self._post(texts, deadline, truncate=truncate)
        except TooLong as refused:
            last = refused
        if not truncate and not self.openai:
            log.warning(
                "embeddings: %s refused a text as too long (%s); asking it to truncate",
                self._where(),
                last.describe(),
            )
            self._truncate_learned = True
            try:
                return self._post(texts, deadline, truncate=True)
            except TooLong as refused:
                last = refused
        log.warning(
            "embeddings: %s still refuses a text as too long (%s); cutting it client-side",
            self._where(),
            last.describe(),
        )
        cut = cut_to_fit(texts, last.limit, last.given, last.unit)
        try:
            return self._post(cut, deadline, truncate=not self.openai)
        except TooLong as refused:
            raise EmbeddingServiceError(
                f"{self._where()} refuses texts as too long even when cut to fit "
                f"({refused.describe()}); lower SEMSEARCH_CHUNK_TOKENS",
                status=refused.status,
                request_id=refused.request_id,
                setting="SEMSEARCH_CHUNK_TOKENS",
            ) from None

    def _wants_truncate(self, texts: list[str]) -> bool:
        if self.openai:  # OpenAI bodies have no such field; TEI follows --auto-truncate there
            return False
        if self.truncate_up_front or self._truncate_learned:
            return True
        info = self._info.known
        if info is None or info.auto_truncate or not info.max_input_length:
            return False
        return any(estimate_tokens(text) > info.max_input_length for text in texts)

    def _check_dimension(self, vectors: list[Vector]) -> None:
        dim = len(vectors[0])
        with self._dim_lock:
            if self._dimension is None:
                self._dimension = dim
                return
            known = self._dimension
        if dim != known:
            raise DimensionMismatchError(
                f"{self._where()} returned {dim}-dimensional vectors, but it returned {known} "
                f"before; did EMBEDDINGS_MODEL or {self.url_setting} change?",
                setting="EMBEDDINGS_MODEL",
            )

    # -- one request, with retries ----------------------------------------------------------

    def _body(self, texts: list[str], truncate: bool) -> dict[str, Any]:
        if self.openai:
            body: dict[str, Any] = {"input": texts}
            if self.body_model:
                body["model"] = self.body_model
            return body
        body = {"inputs": texts, "normalize": True}
        if truncate:
            body["truncate"] = True
        return body

    def _headers(self) -> dict[str, str]:
        headers = dict(self._extra_headers)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _post(self, texts: list[str], deadline: float, *, truncate: bool) -> list[Vector]:
        body = self._sender.post(self._body(texts, truncate), deadline)
        return parse_vectors(body, len(texts))

    # -- errors -----------------------------------------------------------------------------

    def _where(self) -> str:
        return redact_url(self.url)

    def _redact(self, text: str) -> str:
        """``text`` without the token or the URL's password (``user:password@``)."""
        return redact_secrets(text, self._token, self.url)

    def _scrub(self, exc: EmbeddingError) -> None:
        scrub(exc, self._redact)


class EndpointProvider(RemoteProvider):
    """A dedicated Inference Endpoint or TEI server: POST the configured URL as-is.

    A URL ending in ``/v1/embeddings`` gets the OpenAI body (``{"input", "model"}``); anything
    else gets the HF/TEI body (``{"inputs", "normalize"}``, plus ``"truncate": true`` when a
    text needs it). On first use it asks ``<root>/info`` (``embeddings.tei_info``).
    """

    name = "endpoint"
    url_setting = "EMBEDDINGS_ENDPOINT"
    truncate_up_front = False

    def __init__(self, settings: EmbeddingSettings, *, retry: RetryPolicy | None = None) -> None:
        url = settings.endpoint.strip()
        if not url:
            raise EmbeddingConfigError(
                "EMBEDDINGS_ENDPOINT is not set; the endpoint provider needs its URL",
                setting="EMBEDDINGS_ENDPOINT",
            )
        require_http_url(url, "EMBEDDINGS_ENDPOINT")
        openai = urlparse(url).path.rstrip("/").endswith("/v1/embeddings")
        model_id = settings.model.strip() or redact_url(url)  # shown, and kept in the store
        super().__init__(
            settings,
            url=url,
            model_id=model_id,
            openai=openai,
            retry=retry,
            info_url=info_url(url),
        )
        if (urlparse(url).hostname or "").endswith(HF_ENDPOINTS_DOMAIN):
            # A scaled-to-zero endpoint answers 503 while it starts, unless asked to hold the
            # request (Inference Endpoints autoscaling guide); hold it within our read timeout.
            hold = max(1, int(settings.read_timeout_s * 0.8))
            self._extra_headers[SCALE_UP_HEADER] = str(hold)
