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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from embeddings import diagnose
from embeddings.errors import EmbeddingResponseError
from inference.retry import RETRYABLE, RetryPolicy, backoff_wait, wait_hint
from inference.wire import error_message

log = logging.getLogger("embeddings.remote")

# TEI: 'batch size 64 > maximum allowed batch size 32'
_BATCH_LIMIT = re.compile(r"batch size (\d+) > maximum allowed batch size (\d+)")
# TEI: 'Input validation error: `inputs` must have less than 512 tokens. Given: 600'
# (and '... less than 32000 characters. Given: 67337', which truncation does not lift).
_TOO_LONG = re.compile(r"must have less than (\d+) (tokens|characters)(?:\. Given: (\d+))?")


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
    slots: threading.BoundedSemaphore = field(init=False)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.retry.max_concurrency))

    def post(self, body: dict[str, Any], deadline: float) -> object:
        """The decoded JSON of a 2xx answer."""
        attempt = 0
        while True:
            attempt += 1
            hint: float | None = None
            status: int | None = None
            request_id: str | None = None
            loading = False
            try:
                with self.slots:
                    resp = self.client.post(self.url, json=body, headers=self.headers())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise diagnose.unreachable(self.whom, self.url, exc) from exc
            except httpx.TimeoutException:
                problem = f"no answer within {self.read_timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return self._decode(resp)
                payload = _json_or_none(resp)
                message = self.redact(error_message(payload) or _text_preview(resp))
                request_id = resp.headers.get("x-request-id")
                raise_if_too_big(status, message, request_id)
                if status not in RETRYABLE:
                    raise diagnose.http_error(self.whom, status, message, request_id)
                hint = wait_hint(status, resp.headers, payload)
                loading = isinstance(payload, dict) and "estimated_time" in payload
                problem = f"HTTP {status}: {message}"
            wait = backoff_wait(self.retry, attempt, hint, self.rng)
            out_of_time = time.monotonic() + wait > deadline
            if attempt >= self.retry.max_attempts or out_of_time:
                raise diagnose.gave_up(
                    self.whom,
                    why="its time budget" if out_of_time else f"{attempt} attempts",
                    problem=problem,
                    status=status,
                    loading=loading,
                    request_id=request_id,
                )
            log.warning(
                "embeddings: %s (attempt %d), retrying in %.2f s",
                self.redact(problem),
                attempt,
                wait,
            )
            time.sleep(wait)

    def _decode(self, resp: httpx.Response) -> object:
        try:
            return resp.json()
        except ValueError:
            raise EmbeddingResponseError(
                f"{self.whom.label} answered HTTP {resp.status_code} with a body that is not "
                f"JSON: {_text_preview(resp)}"
            ) from None


def _json_or_none(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def _text_preview(resp: httpx.Response) -> str:
    text = " ".join(resp.text.split())
    return (text[:200] + "…") if len(text) > 200 else (text or resp.reason_phrase)
