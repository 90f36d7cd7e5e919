"""When to retry an embeddings request, and how long to wait first.

Kept apart from the HTTP code so the policy reads in one place. The anchors got this wrong in
both directions: retrying 401s forever, or hammering a loading model with immediate 503 retries.
Here only transient statuses are retried, each wait honours the server's hint
(``estimated_time``, ``Retry-After``, ``ratelimit: "api";r=0;t=55``), grows exponentially with
jitter, is capped, and the whole batch has a deadline.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

#: Statuses worth another try: timeouts, model loading (503, 424), rate limits, server errors.
RETRYABLE = frozenset({408, 424, 429, 500, 502, 503, 504})
_RATELIMIT_T = re.compile(r"\bt=(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; tests pass small waits to stay fast."""

    max_attempts: int = 5
    #: Cap on any single wait, whatever ``estimated_time`` or ``Retry-After`` asks for.
    max_retry_wait_s: float = 20.0
    #: First backoff step; doubles per attempt, with jitter.
    backoff_base_s: float = 0.5
    #: Total time one batch may take, waits included.
    deadline_s: float = 120.0
    #: Requests in flight at once from one provider (web threads + ingestion share it).
    max_concurrency: int = 4


def backoff_wait(
    policy: RetryPolicy, attempt: int, hint: float | None, rng: random.Random
) -> float:
    """Exponential backoff with jitter, never shorter than the server's hint, capped."""
    step = policy.backoff_base_s * 2 ** (attempt - 1)
    wait = step * (0.5 + 0.5 * rng.random())
    if hint is not None:
        wait = max(wait, hint * (1 + 0.1 * rng.random()))
    return min(policy.max_retry_wait_s, wait)


def wait_hint(status: int, headers: Mapping[str, str], payload: object) -> float | None:
    """Seconds the server asked us to wait: ``estimated_time``, ``Retry-After`` or ``ratelimit``.

    ``headers`` must look names up case-insensitively (``httpx.Headers`` does).
    """
    if status in (503, 424) and isinstance(payload, dict):
        estimated = payload.get("estimated_time")
        if isinstance(estimated, int | float) and estimated >= 0:
            return float(estimated)
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    ratelimit = headers.get("ratelimit")
    if ratelimit and (match := _RATELIMIT_T.search(ratelimit)):
        return float(match.group(1))
    return None
