"""The HTTP providers: ``hf-inference`` (the HF router) and ``endpoint`` (a dedicated endpoint/TEI).

Both speak the same wire format, so they share :class:`RemoteProvider`, which does what the
anchors (Flowise, LangChain, Haystack, ...) did not: explicit connect/read timeouts, batching,
bounded retries with backoff and jitter for the statuses that are worth retrying (503/424 model
loading, 429 rate limit, 5xx), batch splitting on 413, no retry at all for 400/401/402/403/404,
a strict shape check of every answer and a dimension guard across calls.

The token only ever goes into the ``Authorization`` header of a request; every message built here
passes through :meth:`RemoteProvider._redact` in case a server echoes it back.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlparse

import httpx

from embeddings.base import Vector
from embeddings.errors import (
    DimensionMismatchError,
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingResponseError,
    EmbeddingServiceError,
)
from embeddings.retry import RETRYABLE, RetryPolicy, backoff_wait, wait_hint
from embeddings.settings import EmbeddingSettings
from embeddings.wire import error_message, parse_vectors

log = logging.getLogger(__name__)

#: Keep request bodies well under the ~2 MB servers accept.
MAX_PAYLOAD_BYTES = 2_000_000
PROBE_TEXT = "dimension probe"
RETIRED_HOST = "api-inference.huggingface.co"
# TEI: 'batch size 64 > maximum allowed batch size 32'
_BATCH_LIMIT = re.compile(r"batch size (\d+) > maximum allowed batch size (\d+)")


class _TooLarge(Exception):
    """The server refused the batch as too large; ``limit`` is its maximum when it said so."""

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        self.limit = limit


class RemoteProvider:
    """Shared HTTP machinery; subclasses choose the URL, the body shape and error wording."""

    name: str = "remote"
    #: The setting that holds the URL, named in "cannot reach" messages.
    url_setting: str = "EMBEDDINGS_ENDPOINT"

    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        url: str,
        model_id: str,
        openai: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = url
        self.model_id = model_id
        self.model = settings.model.strip()
        self.openai = openai
        self.batch_size = max(1, settings.batch_size)
        self.retry = retry or RetryPolicy()
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
        self._slots = threading.BoundedSemaphore(max(1, self.retry.max_concurrency))
        self._dimension: int | None = None
        self._dim_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._learned_batch: int | None = None
        self._rng = random.Random()

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
        """One unit vector per text, in order, sent in batches of ``batch_size``."""
        out: list[Vector] = []
        for batch in self._batches(list(texts)):
            out.extend(self._embed_batch(batch))
        return out

    def embed_query(self, text: str) -> Vector:
        """Same as a document: these endpoints take no prompt name yet."""
        return self._embed_batch([text])[0]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_id={self.model_id!r}, url={self.url!r}, "
            f"token={'set' if self._token else 'not set'})"
        )

    # -- batching ---------------------------------------------------------------------------

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        """Batches of at most ``batch_size`` texts (or the server's learned limit) and ~2 MB."""
        batch: list[str] = []
        size = 0
        for text in texts:
            cost = len(text.encode("utf-8")) + 4
            limit = min(self.batch_size, self._learned_batch or self.batch_size)
            if batch and (len(batch) >= limit or size + cost > MAX_PAYLOAD_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(text)
            size += cost
        if batch:
            yield batch

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
        try:
            return self._post(texts, deadline)
        except _TooLarge as too_large:
            if len(texts) == 1:
                raise EmbeddingServiceError(
                    f"{self._where()} refused a single text as too large (HTTP 413); "
                    "the text is longer than the server accepts",
                    status=413,
                    setting=self.url_setting,
                ) from None
            step = too_large.limit if too_large.limit and too_large.limit < len(texts) else None
            step = step or (len(texts) + 1) // 2
            self._learned_batch = min(self._learned_batch or step, step)
            log.info("embeddings: batch of %d too large, retrying in parts of %d", len(texts), step)
            out: list[Vector] = []
            while len(out) < len(texts):
                # Re-read the limit: a deeper split may have lowered it further.
                part = texts[len(out) : len(out) + (self._learned_batch or step)]
                out.extend(self._post_splitting(part, deadline))
            return out

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

    def _body(self, texts: list[str]) -> dict[str, Any]:
        if self.openai:
            body: dict[str, Any] = {"input": texts}
            if self.model:
                body["model"] = self.model
            return body
        return {"inputs": texts, "normalize": True, "truncate": True}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _post(self, texts: list[str], deadline: float) -> list[Vector]:
        body = self._body(texts)
        attempt = 0
        while True:
            attempt += 1
            hint: float | None = None
            status: int | None = None
            request_id: str | None = None
            try:
                with self._slots:
                    resp = self._client.post(self.url, json=body, headers=self._headers())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise EmbeddingServiceError(
                    f"cannot reach {self.url} ({type(exc).__name__}: {exc}); "
                    f"check {self.url_setting}",
                    setting=self.url_setting,
                ) from exc
            except httpx.TimeoutException:
                problem = f"no answer within {self._timeout.read:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return self._parse(resp, len(texts))
                payload = _json_or_none(resp)
                message = error_message(payload) or _text_preview(resp)
                request_id = resp.headers.get("x-request-id")
                if status == 413:
                    raise _TooLarge(None)
                limit = _BATCH_LIMIT.search(message) if status == 422 else None
                if limit:
                    raise _TooLarge(int(limit.group(2)))
                if status not in RETRYABLE:
                    raise self._fatal(status, message, request_id)
                hint = wait_hint(status, resp.headers, payload)
                problem = f"HTTP {status}: {message}"
            wait = backoff_wait(self.retry, attempt, hint, self._rng)
            out_of_time = time.monotonic() + wait > deadline
            if attempt >= self.retry.max_attempts or out_of_time:
                why = "its time budget" if out_of_time else f"{attempt} attempts"
                raise EmbeddingServiceError(
                    f"{self._where()} still failing after {why}: {problem}",
                    status=status,
                    request_id=request_id,
                    setting=self.url_setting,
                )
            log.warning(
                "embeddings: %s (attempt %d), retrying in %.2f s",
                self._redact(problem),
                attempt,
                wait,
            )
            time.sleep(wait)

    def _parse(self, resp: httpx.Response, expected: int) -> list[Vector]:
        try:
            body = resp.json()
        except ValueError:
            raise EmbeddingResponseError(
                f"{self._where()} answered HTTP {resp.status_code} with a body that is not "
                f"JSON: {_text_preview(resp)}"
            ) from None
        return parse_vectors(body, expected)

    # -- errors -----------------------------------------------------------------------------

    def _where(self) -> str:
        return self.url

    def _not_found(self) -> tuple[str, str]:
        return (f"endpoint {self.url} was not found; check EMBEDDINGS_ENDPOINT", self.url_setting)

    def _fatal(self, status: int, message: str, request_id: str | None) -> EmbeddingServiceError:
        """The error for a status that retrying cannot fix, worded so a user can act on it."""
        setting: str | None
        if status == 401:
            text, setting = "HF_TOKEN was rejected (missing, invalid or expired token)", "HF_TOKEN"
        elif status == 402:
            text = "out of credits for this HF_TOKEN's account: add credits or use a local provider"
            setting = "HF_TOKEN"
        elif status == 403:
            text = (
                f"HF_TOKEN has no access to {self.model_id} (gated model, or the token lacks "
                "the inference permission)"
            )
            setting = "HF_TOKEN"
        elif status == 404:
            text, setting = self._not_found()
        elif status == 400:
            text, setting = "the server rejected the request as invalid", None
        else:
            text, setting = f"{self._where()} refused the request", self.url_setting
        return EmbeddingServiceError(
            f"{text} (HTTP {status}: {self._redact(message)})",
            status=status,
            request_id=request_id,
            setting=setting,
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _scrub(self, exc: EmbeddingError) -> None:
        """Remove the token from an error's message, should a server have echoed it."""
        if self._token and self._token in exc.message:
            exc.message = self._redact(exc.message)
            exc.args = (exc.message,)


class HFInferenceProvider(RemoteProvider):
    """Serverless HF Inference through the router.

    POSTs ``{HF_INFERENCE_BASE_URL}/models/{model}/pipeline/feature-extraction``.
    """

    name = "hf-inference"
    url_setting = "HF_INFERENCE_BASE_URL"

    def __init__(self, settings: EmbeddingSettings, *, retry: RetryPolicy | None = None) -> None:
        model = settings.model.strip()
        if not model:
            raise EmbeddingConfigError(
                "EMBEDDINGS_MODEL is blank; hf-inference needs a model id",
                setting="EMBEDDINGS_MODEL",
            )
        if not settings.token.get_secret_value().strip():
            raise EmbeddingConfigError(
                "HF_TOKEN is not set; the hf-inference provider needs a Hugging Face token",
                setting="HF_TOKEN",
            )
        base = settings.hf_inference_base_url.strip().rstrip("/")
        _require_http_url(base, "HF_INFERENCE_BASE_URL")
        if urlparse(base).hostname == RETIRED_HOST:
            raise EmbeddingConfigError(
                f"{RETIRED_HOST} is retired; set HF_INFERENCE_BASE_URL to "
                "https://router.huggingface.co/hf-inference",
                setting="HF_INFERENCE_BASE_URL",
            )
        url = f"{base}/models/{quote(model, safe='/')}/pipeline/feature-extraction"
        super().__init__(settings, url=url, model_id=model, retry=retry)

    def _where(self) -> str:
        return f"HF Inference ({self.model_id})"

    def _not_found(self) -> tuple[str, str]:
        return (
            f"model {self.model_id!r} was not found on HF Inference for feature-extraction; "
            "check EMBEDDINGS_MODEL",
            "EMBEDDINGS_MODEL",
        )


class EndpointProvider(RemoteProvider):
    """A dedicated Inference Endpoint or TEI server: POST the configured URL as-is.

    A URL ending in ``/v1/embeddings`` gets the OpenAI body (``{"input", "model"}``); anything
    else gets the HF/TEI body (``{"inputs", "normalize", "truncate"}``).
    """

    name = "endpoint"
    url_setting = "EMBEDDINGS_ENDPOINT"

    def __init__(self, settings: EmbeddingSettings, *, retry: RetryPolicy | None = None) -> None:
        url = settings.endpoint.strip()
        if not url:
            raise EmbeddingConfigError(
                "EMBEDDINGS_ENDPOINT is not set; the endpoint provider needs its URL",
                setting="EMBEDDINGS_ENDPOINT",
            )
        _require_http_url(url, "EMBEDDINGS_ENDPOINT")
        openai = urlparse(url).path.rstrip("/").endswith("/v1/embeddings")
        model_id = settings.model.strip() or url
        super().__init__(settings, url=url, model_id=model_id, openai=openai, retry=retry)


def _require_http_url(url: str, setting: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EmbeddingConfigError(f"{setting}={url!r} is not an http(s) URL", setting=setting)


def _json_or_none(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def _text_preview(resp: httpx.Response) -> str:
    text = " ".join(resp.text.split())
    return (text[:200] + "…") if len(text) > 200 else (text or resp.reason_phrase)
