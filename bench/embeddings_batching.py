"""Embeddings batching: the node's request pattern next to the two patterns the anchors use.

Serves `create_embeddings_app` (semsearch's TEI-compatible server) with uvicorn on 127.0.0.1,
with a 32-text batch limit and a fixed latency added to every request by an ASGI middleware,
then embeds the same real passages three ways, in one run:

* the node: `EndpointProvider.embed_documents` on all texts, default settings;
* (a) one text per request, in sequence (httpx, one kept-alive connection);
* (b) one request holding all texts: refused by the limited server (its status is reported),
  then timed against a second server that has no batch or payload limit, so it has a figure.

By default the server embeds with a small deterministic provider defined here (unit vectors
from a hash of the text, dimension 384), so that the figures measure the request pattern, not
model compute. `--real-model` embeds with the bundled all-MiniLM-L6-v2 instead (fewer chunks).
The middleware also records every request's batch size, so the largest batch the server saw
from the node is printed. It never fails on time: it prints figures.

    .venv/bin/python bench/embeddings_batching.py [--chunks 2000] [--latency-ms 50] [--real-model]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from embeddings.base import EmbeddingProvider
from embeddings.remote import EndpointProvider
from embeddings.server import create_embeddings_app
from embeddings.settings import EmbeddingSettings
from embeddings.threaded import serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "eval" / "corpora" / "reuters-r8-train.tab"
LIMIT = 32


def read_passages(path: Path, count: int, words: int) -> list[str]:
    """``count`` passages of ``words // 2`` to ``words`` words, cut in order from documents.

    Shorter tails are skipped so the passages are chunk-sized. The file has three header lines,
    then ``label<TAB>text`` per document.
    """
    passages: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number < 3 or "\t" not in line:
                continue
            tokens = line.split("\t", 1)[1].split()
            for start in range(0, len(tokens), words):
                if len(tokens) - start < words // 2:
                    break
                passages.append(" ".join(tokens[start : start + words]))
                if len(passages) == count:
                    return passages
    return passages


class HashProvider:
    """Deterministic unit vectors from a hash of the text: costs microseconds, not a model."""

    name = "hash"
    model_id = "bench/hash-384"
    dimension = 384

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension)
        result: list[float] = (vector / np.linalg.norm(vector)).tolist()
        return result

    def close(self) -> None:
        pass


@dataclass
class Delayed:
    """ASGI middleware: adds ``delay_s`` to every HTTP request and records its batch size."""

    app: Any
    delay_s: float
    batches: list[tuple[int, int]] = field(default_factory=list)  # (texts, status)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await asyncio.sleep(self.delay_s)
        body: list[bytes] = []
        entry = [0, 0]

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body") and scope["method"] == "POST":
                    inputs = json.loads(b"".join(body)).get("inputs")
                    entry[0] = 1 if isinstance(inputs, str) else len(inputs or [])
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry[1] = message["status"]
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        if scope["method"] == "POST":
            self.batches.append((entry[0], entry[1]))


@dataclass
class Row:
    pattern: str
    seconds: float
    batches: list[tuple[int, int]]
    chunks: int
    ok: bool

    def print(self) -> None:
        statuses = sorted({status for _, status in self.batches})
        rate = f"{self.chunks / self.seconds:9.1f}" if self.ok else "        —"
        largest = max((n for n, _ in self.batches), default=0)
        print(
            f"{self.pattern:<46} {len(self.batches):>8} {largest:>8} "
            f"{'/'.join(map(str, statuses)):>8} {self.seconds:9.2f} {rate}"
        )


def timed(server: Delayed, pattern: str, chunks: int, run: Callable[[], bool]) -> Row:
    server.batches.clear()
    started = time.perf_counter()
    ok = run()
    return Row(pattern, time.perf_counter() - started, list(server.batches), chunks, ok)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=None, help="default 2000 (256 real model)")
    parser.add_argument("--words", type=int, default=150, help="words per passage")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--real-model", action="store_true", help="embed with all-MiniLM-L6-v2")
    args = parser.parse_args()
    if not CORPUS.is_file():
        sys.exit(f"corpus not found: {CORPUS} (../shared/eval is needed); nothing measured")
    count = args.chunks or (256 if args.real_model else 2000)
    texts = read_passages(CORPUS, count, args.words)
    provider: EmbeddingProvider
    if args.real_model:
        from embeddings.local import LocalProvider

        provider = LocalProvider(EmbeddingSettings(provider="local"))
        what = f"the bundled {provider.model_id} (real model compute on this machine)"
    else:
        provider = HashProvider()
        what = "a deterministic hash provider (dimension 384): request pattern only, no model"
    delay = args.latency_ms / 1000
    limited = Delayed(create_embeddings_app(provider, max_client_batch_size=LIMIT), delay)
    unlimited = Delayed(
        create_embeddings_app(provider, max_client_batch_size=10**9, payload_limit=10**10),
        delay,
    )
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} passages from {CORPUS.name}, {words:.0f} words on average")
    print(f"server: semsearch's TEI API over {what}")
    print(f"        +{args.latency_ms:g} ms per request, max_client_batch_size={LIMIT}\n")
    with (
        serve_in_thread(limited, log_level="error") as url,
        serve_in_thread(unlimited, log_level="error") as open_url,
        httpx.Client(timeout=600) as client,
    ):
        for base in (url, open_url):  # warm up: connection, first request, model
            client.post(f"{base}/embed", json={"inputs": ["warm up"]}).raise_for_status()
        node = EndpointProvider(
            EmbeddingSettings(provider="endpoint", endpoint=f"{url}/embed", model="")
        )

        def node_run() -> bool:
            return len(node.embed_documents(texts)) == len(texts)

        def one_by_one() -> bool:
            for text in texts:
                client.post(f"{url}/embed", json={"inputs": text}).raise_for_status()
            return True

        refusal: list[httpx.Response] = []

        def all_in_one(base: str) -> Callable[[], bool]:
            def run() -> bool:
                response = client.post(f"{base}/embed", json={"inputs": texts})
                refusal.append(response)
                return response.status_code == 200 and len(response.json()) == len(texts)

            return run

        rows = [
            timed(limited, "node (EndpointProvider.embed_documents)", count, node_run),
            timed(limited, "(a) one text per request, in sequence", count, one_by_one),
            timed(limited, "(b) all texts in one request", count, all_in_one(url)),
            timed(unlimited, "(b) all in one, server WITHOUT limits", count, all_in_one(open_url)),
        ]
        node.close()
    print(f"{'pattern':<46} {'requests':>8} {'largest':>8} {'status':>8} {'seconds':>9} chunks/s")
    for row in rows:
        row.print()
    node_row, single, _, _ = rows
    ratio = (count / node_row.seconds) / (count / single.seconds)
    seen = [n for n, status in node_row.batches if status == 200]
    print(f"\nnode / (a): {ratio:.1f}x")
    print(f"largest batch the server accepted from the node: {max(seen)} texts (limit {LIMIT})")
    print(f"requests from the node the server refused: {len(node_row.batches) - len(seen)}")
    print(f"(b) against the limit: HTTP {refusal[0].status_code} {refusal[0].text[:120]}")


if __name__ == "__main__":
    main()
