"""The ``endpoint`` reranker: a TEI server's ``/rerank``, or a Cohere/Jina-style ``/v1/rerank``.

Wire formats (TEI's ``router/src/http/server.rs`` ``rerank`` and ``types.rs``
``RerankRequest``; Cohere's and Jina's rerank references):

* **TEI** (any URL but ``…/v1/rerank`` and ``…/v2/rerank``, so the root of an Inference Endpoint
  too, which TEI answers as ``/rerank`` for a cross-encoder): ``{"query", "texts",
  "raw_scores": false, "truncate": true}`` → ``[{"index", "score"}]``, sorted by score. An
  embedding model answers 424 ``model is not a re-ranker model``; more texts than
  ``max_client_batch_size`` are refused ("batch size N > maximum allowed batch size M", 413
  before TEI 1.9, 422 since); so are texts past ``max_input_length`` unless truncating.
* **Cohere/Jina** (``…/v1/rerank``, ``…/v2/rerank``): ``{"model", "query", "documents",
  "top_n"}`` → ``{"results": [{"index", "relevance_score"}]}``.

Robustness is the embeddings node's: TEI's ``/info`` asked once for its limits
(``embeddings.tei_info``), batches within them and within about 2 MB (``embeddings.batching``),
batches split on a batch-size refusal, retries for 429, 503 and 5xx only, never for another
4xx (``embeddings.request``), and errors worded per cause, naming ``RERANK_ENDPOINT``,
``RERANK_MODEL`` or the token's setting (``embeddings.diagnose``). One search waits at most
about ``RERANK_TIMEOUT_S`` for all of it. Every answer is checked: one score per text, each
index once, every score a finite number.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import httpx

from embeddings.batching import batches, cut_to_fit, map_bounded
from embeddings.diagnose import Where
from embeddings.errors import (
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingResponseError,
    EmbeddingServiceError,
    EmbeddingUnavailableError,
    scrub,
)
from embeddings.request import LearnedBatch, Sender, TooLong, send_in_parts
from embeddings.rerank import RerankSettings
from embeddings.settings import require_http_url
from embeddings.tei_info import InfoOnce, TeiInfo, info_url
from inference.attempts import Refusal
from inference.redact import redact_secrets, redact_url
from inference.retry import RetryPolicy

URL_SETTING = "RERANK_ENDPOINT"
_COHERE_ROUTES = ("/v1/rerank", "/v2/rerank")
_NOT_A_RERANKER = re.compile(r"not a re-?ranker", re.IGNORECASE)


def search_retry_policy(settings: RerankSettings) -> RetryPolicy:
    """Few, short retries: a search is waiting, and it answers without the reranker anyway."""
    return RetryPolicy(
        max_attempts=3,
        max_retry_wait_s=min(2.0, settings.timeout_s / 2),
        backoff_base_s=0.25,
        deadline_s=settings.timeout_s,
        max_concurrency=4,
    )


class EndpointReranker:
    """Reranks over HTTP; safe to share between threads."""

    name = "endpoint"

    def __init__(self, settings: RerankSettings, *, retry: RetryPolicy | None = None) -> None:
        url = settings.endpoint.strip()
        require_http_url(url, URL_SETTING)
        self.url = url
        self.model = settings.model.strip()
        self.cohere = urlparse(url).path.rstrip("/").endswith(_COHERE_ROUTES)
        if self.cohere and not self.model:
            raise EmbeddingConfigError(
                f"RERANK_MODEL is blank, but {URL_SETTING} is a /v1/rerank service, whose "
                "requests name the model (such as rerank-v3.5 or "
                "jina-reranker-v2-base-multilingual)",
                setting="RERANK_MODEL",
            )
        self.model_id = self.model or redact_url(url)
        self.batch_size = max(1, settings.batch_size)
        self.retry = retry or search_retry_policy(settings)
        self._token = settings.token.get_secret_value().strip()
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            headers={"Accept": "application/json", "User-Agent": "semsearch"},
            follow_redirects=False,
        )
        where = Where(
            "endpoint",
            redact_url(url),
            self.model_id,
            URL_SETTING,
            token_setting=settings.token_setting,
            model_setting="RERANK_MODEL",
        )
        self._where = where
        self._sender = Sender(
            client=self._client,
            url=url,
            retry=self.retry,
            whom=where,
            headers=self._headers,
            redact=self._redact,
            read_timeout_s=settings.timeout_s,
            final=self._refused_for_good,
        )
        self._learned = LearnedBatch()
        self._info = InfoOnce(None if self.cohere else info_url(url))

    # -- the protocol -----------------------------------------------------------------------

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in order, in requests within the server's limits."""
        if not texts:
            return []
        deadline = time.monotonic() + self.retry.deadline_s
        info = self.server_info()
        # Each text is read together with the query: plan on the pairs, send the texts.
        pairs = [f"{query} {text}" for text in texts]
        sizes = [
            len(part)
            for part in batches(
                pairs,
                self._max_texts,
                max_tokens=info.max_batch_tokens if info else None,
                token_cap=info.max_input_length if info else None,
            )
        ]
        parts: list[list[str]] = []
        start = 0
        for size in sizes:
            parts.append(list(texts[start : start + size]))
            start += size
        try:
            scored = map_bounded(
                lambda part: self._split_if_refused(query, part, deadline),
                parts,
                limit=self.retry.max_concurrency,
            )
        except EmbeddingError as exc:
            self._scrub(exc)
            raise
        return [score for part in scored for score in part]

    def close(self) -> None:
        self._client.close()

    def server_info(self) -> TeiInfo | None:
        """TEI's ``/info``, asked once on first use (not of a /v1/rerank service)."""
        return self._info.get(self._client, self._headers())

    def __repr__(self) -> str:
        return f"EndpointReranker(model_id={self.model_id!r}, url={redact_url(self.url)!r})"

    # -- requests ---------------------------------------------------------------------------

    def _max_texts(self) -> int:
        limits = [self.batch_size]
        if self._learned.limit:
            limits.append(self._learned.limit)
        if (info := self._info.known) and info.max_client_batch_size:
            limits.append(info.max_client_batch_size)
        return min(limits)

    def _split_if_refused(self, query: str, texts: list[str], deadline: float) -> list[float]:
        return send_in_parts(
            texts,
            lambda part: self._post_fitting(query, part, deadline),
            self._learned,
            lambda: EmbeddingServiceError(
                f"{self._where.label} refused a single passage as too large",
                status=413,
                setting=URL_SETTING,
            ),
        )

    def _post_fitting(self, query: str, texts: list[str], deadline: float) -> list[float]:
        """TEI truncates when asked; a server that still refuses a text as too long gets the
        texts cut client-side, once."""
        try:
            return self._post(query, texts, deadline)
        except TooLong as refused:
            cut = cut_to_fit(texts, refused.limit, refused.given, refused.unit)
            try:
                return self._post(query, cut, deadline)
            except TooLong as again:
                raise EmbeddingServiceError(
                    f"{self._where.label} refuses passages as too long even when cut to fit "
                    f"({again.describe()})",
                    status=again.status,
                    request_id=again.request_id,
                    setting=URL_SETTING,
                ) from None

    def _post(self, query: str, texts: list[str], deadline: float) -> list[float]:
        body = self._sender.post(self._body(query, texts), deadline)
        if self.cohere:
            return parse_cohere_scores(body, len(texts), self._where.label)
        return parse_tei_scores(body, len(texts), self._where.label)

    def _body(self, query: str, texts: list[str]) -> dict[str, Any]:
        if self.cohere:
            return {"model": self.model, "query": query, "documents": texts, "top_n": len(texts)}
        return {"query": query, "texts": texts, "raw_scores": False, "truncate": True}

    def _refused_for_good(self, refused: Refusal) -> Exception | None:
        """TEI answers 424 (which is otherwise "still loading") when its model is no
        cross-encoder: no retry can change that."""
        if _NOT_A_RERANKER.search(refused.message):
            return EmbeddingUnavailableError(
                f"{URL_SETTING} ({self._where.label}) serves a model that is not a re-ranker "
                f"(HTTP {refused.status}: {refused.message}); point it at a TEI server started "
                "with a cross-encoder, such as BAAI/bge-reranker-base",
                status=refused.status,
                request_id=refused.request_id,
                setting=URL_SETTING,
            )
        return None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _redact(self, text: str) -> str:
        return redact_secrets(text, self._token, self.url)

    def _scrub(self, exc: EmbeddingError) -> None:
        scrub(exc, self._redact)


def parse_tei_scores(body: object, count: int, where: str) -> list[float]:
    """TEI's ``[{"index", "score"}]`` (any order) → the scores in the order sent."""
    if not isinstance(body, list):
        raise _not_scores(where, body, "a list of {index, score}")
    return _scores_by_index(body, count, "score", where)


def parse_cohere_scores(body: object, count: int, where: str) -> list[float]:
    """Cohere's and Jina's ``{"results": [{"index", "relevance_score"}]}``."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise _not_scores(where, body, '{"results": [{index, relevance_score}]}')
    return _scores_by_index(results, count, "relevance_score", where)


def _scores_by_index(items: list[object], count: int, key: str, where: str) -> list[float]:
    scores: list[float | None] = [None] * count
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get(key) if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            raise _not_scores(where, item, f"an index from 0 to {count - 1}")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise _not_scores(where, item, f"a number as {key!r}")
        if not math.isfinite(score):
            raise _not_scores(where, item, f"a finite number as {key!r}")
        if scores[index] is not None:
            raise _not_scores(where, item, f"each index once (index {index} came twice)")
        scores[index] = float(score)
    missing = [i for i, score in enumerate(scores) if score is None]
    if missing:
        raise EmbeddingResponseError(
            f"{where} scored {count - len(missing)} of the {count} passages sent "
            f"(no score for index {missing[0]}); check {URL_SETTING}",
            setting=URL_SETTING,
        )
    return [score for score in scores if score is not None]


def _not_scores(where: str, got: object, wanted: str) -> EmbeddingResponseError:
    preview = repr(got)
    preview = preview[:120] + "…" if len(preview) > 120 else preview
    return EmbeddingResponseError(
        f"{where} answered something that is not rerank scores (wanted {wanted}, got "
        f"{preview}); is {URL_SETTING} a rerank route?",
        setting=URL_SETTING,
    )
