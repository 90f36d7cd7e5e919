"""One embeddings request, sent until it succeeds, is refused for good, or runs out of time.

Kept apart from the providers so that the loop reads in one place: a bounded number of
concurrent requests, retries only for transient statuses (``inference.retry``), waits that
honour the server's hints, a deadline, and answers that mean "send it differently" turned into
exceptions the provider acts on (:class:`TooLarge`: split the batch; :class:`TooLong`: truncate
or cut). Every other refusal becomes a worded error (``embeddings.diagnose``).
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from embeddings import diagnose
from embeddings.errors import EmbeddingResponseError
from inference.attempts import (
    Refusal,
    Transient,
    refusal,
    text_preview,
    transport_problem,
    with_retries,
)
from inference.retry import RetryPolicy

log = logging.getLogger("embeddings.remote")
_T = TypeVar("_T")
_R = TypeVar("_R")

# TEI: 'batch size 64 > maximum allowed batch size 32'
_BATCH_LIMIT = re.compile(r"batch size (\d+) > maximum allowed batch size (\d+)")
# TEI: 'Input validation error: `inputs` must have less than 512 tokens. Given: 600'
# (and '... less than 32000 characters. Given: 67337', which truncation does not lift).
_TOO_LONG = re.compile(r"must have less than (\d+) (tokens|characters)(?:\. Given: (\d+))?")


class LearnedBatch:
    """The most items per request a server accepts, as its refusals have taught (None: no
    refusal yet). Shared by the threads of one client."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self._lock = threading.Lock()

    def lower(self, step: int) -> None:
        with self._lock:
            self.limit = min(self.limit or step, step)


def send_in_parts(
    items: list[_T],
    send: Callable[[list[_T]], list[_R]],
    learned: LearnedBatch,
    single: Callable[[], Exception],
) -> list[_R]:
    """``send(items)``; when the server refuses the batch as too large (:class:`TooLarge`), the
    items again in parts of the size it named (else halves), which later batches keep to. A
    single item refused is ``single()``. The results come back in the items' order."""
    try:
        return send(items)
    except TooLarge as refused:
        if len(items) == 1:
            raise single() from None
        step = refused.limit if refused.limit and refused.limit < len(items) else None
        step = step or (len(items) + 1) // 2
        learned.lower(step)
        log.info("batch of %d too large, retrying in parts of %d", len(items), step)
        out: list[_R] = []
        while len(out) < len(items):
            # Re-read the limit: a deeper split may have lowered it further.
            part = items[len(out) : len(out) + (learned.limit or step)]
            out.extend(send_in_parts(part, send, learned, single))
        return out


class TooLarge(Exception):
    """The server refused the batch as too large; ``limit`` is its maximum when it said so."""

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        self.limit = limit


class TooLong(Exception):
    """The server refused a text as longer than ``limit`` tokens (or characters)."""

    def __init__(
        self, limit: int, given: int | None, unit: str, status: int, request_id: str | None
    ) -> None:
        super().__init__(limit, given, unit)
        self.limit = limit
        self.given = given
        self.unit = unit
        self.status = status
        self.request_id = request_id

    def describe(self) -> str:
        given = f" (one had {self.given})" if self.given else ""
        return f"at most {self.limit} {self.unit} per text{given}"


def raise_if_too_big(status: int, message: str, request_id: str | None) -> None:
    """Raise :class:`TooLong` or :class:`TooLarge` when the answer says so.

    TEI answers its validation errors with 413 (``ErrorType::Validation`` in its
    ``router/src/http/server.rs``); other servers use 422 or 400, so the wording decides.
    """
    if status in (400, 413, 422) and (match := _TOO_LONG.search(message)):
        given = int(match.group(3)) if match.group(3) else None
        raise TooLong(int(match.group(1)), given, match.group(2), status, request_id)
    if status in (413, 422) and (limit := _BATCH_LIMIT.search(message)):
        raise TooLarge(int(limit.group(2)))
    if status == 413:
        raise TooLarge(None)


@dataclass
class Sender:
    """POSTs JSON bodies to one URL with retries; shared by all threads of one provider."""

    client: httpx.Client
    url: str
    retry: RetryPolicy
    whom: diagnose.Where
    headers: Callable[[], dict[str, str]]
    redact: Callable[[str], str]
    read_timeout_s: float
    #: A refusal that means something for good to this caller (a reranker's "not a re-ranker
    #: model" is a 424, which would otherwise be retried as a model still loading).
    final: Callable[[Refusal], Exception | None] = lambda refused: None
    slots: threading.BoundedSemaphore = field(init=False)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.retry.max_concurrency))

    def post(self, body: dict[str, Any], deadline: float) -> object:
        """The decoded JSON of a 2xx answer (``inference.attempts.with_retries``)."""

        def once() -> object:
            try:
                with self.slots:
                    resp = self.client.post(self.url, json=body, headers=self.headers())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise diagnose.unreachable(self.whom, self.url, exc) from exc
            except httpx.TransportError as exc:
                raise transport_problem(exc, self.read_timeout_s) from exc
            if 200 <= resp.status_code < 300:
                return self._decode(resp)
            refused = refusal(resp, self.redact)
            raise_if_too_big(refused.status, refused.message, refused.request_id)
            if (error := self.final(refused)) is not None:
                raise error
            if not refused.retryable:
                raise diagnose.http_error(
                    self.whom, refused.status, refused.message, refused.request_id
                )
            raise refused.transient()

        def give_up(why: str, last: Transient) -> Exception:
            return diagnose.gave_up(
                self.whom,
                why=why,
                problem=last.problem,
                status=last.status,
                loading=last.loading,
                request_id=last.request_id,
            )

        return with_retries(
            once,
            policy=self.retry,
            deadline=deadline,
            give_up=give_up,
            rng=self.rng,
            log=log,
            node="embeddings",
            redact=self.redact,
        )

    def _decode(self, resp: httpx.Response) -> object:
        try:
            return resp.json()
        except ValueError:
            raise EmbeddingResponseError(
                f"{self.whom.label} answered HTTP {resp.status_code} with a body that is not "
                f"JSON: {text_preview(resp)}"
            ) from None
