"""How texts are grouped into requests, and cut when a server refuses one as too long.

Three limits bound a request: a number of texts (``EMBEDDINGS_BATCH_SIZE``, TEI's
``max_client_batch_size``, or what a 413 taught us), about 2 MB of JSON (servers refuse bigger
bodies), and, when a TEI server says so in ``/info``, a budget of tokens (``max_batch_tokens``).
TEI does not refuse a request over that budget, it queues it in several forward passes; keeping
each request within one pass keeps latency even and our read timeout meaningful.

Token counts are *estimated*, because the server's tokenizer is not here. The estimate is cheap
(one regular-expression pass) and leans high on purpose, so budgets err on the small side:

* each word costs one token per 3 bytes of UTF-8 (rounded up): ``the`` is 1, ``embedding`` 3,
  a CJK character 1 (3 bytes), while WordPiece and BPE average about 1.3 tokens per English word;
* each punctuation mark costs 1 (tokenizers split them off);
* 2 more for the special tokens (``[CLS]``/``[SEP]``, ``<s>``/``</s>``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

#: Keep request bodies well under the ~2 MB servers accept.
MAX_PAYLOAD_BYTES = 2_000_000
SPECIAL_TOKENS = 2
_PIECES = re.compile(r"\w+|[^\w\s]")
# Each piece costs ceil(bytes / 3) tokens.
_BYTES_PER_TOKEN = 3


def _piece_cost(piece: str) -> int:
    return -(-len(piece.encode("utf-8")) // _BYTES_PER_TOKEN)


def estimate_tokens(text: str) -> int:
    """A cheap, deliberately high estimate of how many tokens a server's tokenizer makes of it."""
    return SPECIAL_TOKENS + sum(_piece_cost(piece) for piece in _PIECES.findall(text))


def batches(
    texts: Sequence[str],
    max_texts: Callable[[], int],
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    max_tokens: int | None = None,
    token_cap: int | None = None,
) -> Iterator[list[str]]:
    """Consecutive batches within all three limits; a text over a limit on its own goes alone.

    ``max_texts`` is read for every text, so a limit learned from the server mid-way applies at
    once. ``token_cap`` is the most tokens one text can cost (the server truncates longer ones to
    its ``max_input_length``).
    """
    batch: list[str] = []
    size = 0
    tokens = 0
    for text in texts:
        cost = len(text.encode("utf-8")) + 4  # quotes, comma, escapes: roughly
        text_tokens = estimate_tokens(text) if max_tokens else 0
        if token_cap is not None:
            text_tokens = min(text_tokens, token_cap)
        full = len(batch) >= max(1, max_texts()) or size + cost > max_bytes
        over_budget = max_tokens is not None and tokens + text_tokens > max_tokens
        if batch and (full or over_budget):
            yield batch
            batch, size, tokens = [], 0, 0
        batch.append(text)
        size += cost
        tokens += text_tokens
    if batch:
        yield batch


def cut_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose estimate is at most ``limit`` tokens."""
    budget = limit - SPECIAL_TOKENS
    used = 0
    end = 0
    for match in _PIECES.finditer(text):
        used += _piece_cost(match.group())
        if used > budget:
            break
        end = match.end()
    else:
        return text
    return text[:end]


def cut_to_fit(texts: list[str], limit: int, given: int | None, unit: str) -> list[str]:
    """Texts cut so that the server's "must have less than ``limit`` ``unit``" is met.

    For characters the cut is exact. For tokens it uses the estimate with a 5 % margin; should no
    text be estimated over the limit (the estimate missed), every text is shortened by the ratio
    the server reported (``limit / given``), so the one retry still has a chance.
    """
    if unit == "characters":
        return [text[: max(1, limit - 1)] for text in texts]
    target = max(8, math.floor(limit * 0.95))
    if any(estimate_tokens(text) > target for text in texts):
        return [cut_to_tokens(text, target) for text in texts]
    ratio = (target / given) if given and given > limit else 0.5
    return [text[: max(1, math.floor(len(text) * ratio))] for text in texts]


T = TypeVar("T")
R = TypeVar("R")


def map_bounded(work: Callable[[T], R], items: Sequence[T], *, limit: int) -> list[R]:
    """``[work(item) for item in items]`` with at most ``limit`` running at once, in order.

    Batches are sent side by side so a remote endpoint's latency is paid about once per
    ``limit`` batches instead of once per batch. The first error is raised, and batches not yet
    started are cancelled (a rejected token must not be sent 60 more times).
    """
    if limit <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(limit, len(items)), thread_name_prefix="embed")
    try:
        return list(pool.map(work, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
