"""One request to an inference service, tried again while what went wrong is transient.

Both nodes send their requests through ``with_retries``: the embeddings node a whole JSON
answer at a time, the text-generation node up to the first token of a streamed answer (after
it, nothing is retried: a half-relayed answer cannot be taken back). An attempt (``once``)
returns its result, raises the node's final error (a 401 is not worth a second try), or raises
``Transient`` to be tried again after ``inference.retry.backoff_wait``, as long as the policy's
attempts and the request's deadline allow; then the node's ``give_up`` says what the last
problem most likely means.

``refusal`` reads a non-2xx answer once (message, request id, wait hint, whether the model is
still loading) for the node to decide on; ``transport_problem`` and ``unreachable_reason`` word
what httpx raised. All text goes through the node's ``redact`` before it is logged or raised.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from inference.retry import RETRYABLE, RetryPolicy, backoff_wait, wait_hint
from inference.wire import error_message

T = TypeVar("T")

_DNS_WORDS = re.compile(
    r"name or service not known|nodename nor servname|getaddrinfo failed"
    r"|temporary failure in name resolution|no address associated",
    re.IGNORECASE,
)


class Transient(Exception):
    """An attempt that failed in a way another attempt may not: ``problem`` says how."""

    def __init__(
        self,
        problem: str,
        *,
        status: int | None = None,
        hint: float | None = None,
        loading: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.hint = hint
        self.loading = loading
        self.request_id = request_id


@dataclass(frozen=True)
class Refusal:
    """A non-2xx answer, read once: its message already redacted."""

    status: int
    message: str
    request_id: str | None
    hint: float | None
    loading: bool

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE

    def transient(self) -> Transient:
        return Transient(
            f"HTTP {self.status}: {self.message}",
            status=self.status,
            hint=self.hint,
            loading=self.loading,
            request_id=self.request_id,
        )


def refusal(resp: httpx.Response, redact: Callable[[str], str]) -> Refusal:
    """What a non-2xx answer says (its body must have been read)."""
    payload = json_or_none(resp)
    return Refusal(
        status=resp.status_code,
        message=redact(error_message(payload) or text_preview(resp)),
        request_id=resp.headers.get("x-request-id"),
        hint=wait_hint(resp.status_code, resp.headers, payload),
        loading=isinstance(payload, dict) and "estimated_time" in payload,
    )


def transport_problem(exc: httpx.TransportError, read_timeout_s: float) -> Transient:
    """A read timeout or a broken connection, as an attempt worth repeating."""
    if isinstance(exc, httpx.TimeoutException):
        return Transient(f"no answer within {read_timeout_s:g} s")
    return Transient(f"connection failed ({type(exc).__name__}: {exc})")


def unreachable_reason(url: str, exc: httpx.TransportError) -> str:
    """Why a connection could not be made: refused, a name that does not resolve, no time."""
    host = urlsplit(url).hostname or url
    if isinstance(exc, httpx.ConnectTimeout):
        return "no connection within the connect timeout (a firewall, or the host is down)"
    if _is_dns_failure(exc):
        return f"the host name {host!r} does not resolve (a typo, or no network/DNS)"
    if _is_refused(exc):
        return "connection refused (is the server running, on that port?)"
    return f"{type(exc).__name__}: {exc}"


def with_retries(
    once: Callable[[], T],
    *,
    policy: RetryPolicy,
    deadline: float,
    give_up: Callable[[str, Transient], Exception],
    rng: random.Random,
    log: logging.Logger,
    node: str,
    redact: Callable[[str], str] = str,
) -> T:
    """``once()`` until it returns or raises something other than ``Transient``; ``give_up``
        (why: "N attempts" or "its time budget", and the last problem) gives the error raised
        when the attempts or the time before ``deadline`` (``time.monotonic``) run out. Each retry
    is logged as a warning, its problem through ``redact``."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return once()
        except Transient as failed:
            wait = backoff_wait(policy, attempt, failed.hint, rng)
            out_of_time = time.monotonic() + wait > deadline
            if attempt >= policy.max_attempts or out_of_time:
                why = "its time budget" if out_of_time else f"{attempt} attempts"
                raise give_up(why, failed) from None
            log.warning(
                "%s: %s (attempt %d), retrying in %.2f s",
                node,
                redact(failed.problem),
                attempt,
                wait,
            )
            time.sleep(wait)


def json_or_none(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def text_preview(resp: httpx.Response) -> str:
    text = " ".join(resp.text.split())
    return (text[:200] + "…") if len(text) > 200 else (text or resp.reason_phrase)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_dns_failure(exc: BaseException) -> bool:
    return any(isinstance(e, socket.gaierror) or _DNS_WORDS.search(str(e)) for e in _causes(exc))


def _is_refused(exc: BaseException) -> bool:
    return any(
        isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower() for e in _causes(exc)
    )
