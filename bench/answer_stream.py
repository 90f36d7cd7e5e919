"""Streamed answers: how soon the sources come, and what the app adds between the model's pieces
and the client's.

The app runs under uvicorn on 127.0.0.1 with the bundled model and Qdrant Edge, over a few
short documents; the chat model is ``tests.fake_chat.FakeChat``, a loopback server speaking the
router's wire format, sending one piece every ``--interval`` seconds (50 ms by default) and
noting when it wrote each. A client (httpx, streaming) asks ``POST /api/answer`` with
``"stream": true`` ``--requests`` times, one after another, and notes when each event arrives.

It reports, over all requests:

- the ``sources`` event's latency after the request was sent (retrieval: the query embedding
  and the hybrid search), median and p95;
- the relay delay of each piece: when the client read it minus when the fake wrote it (both
  ``time.monotonic`` of this one process), median, p95 and max; the first piece apart. The
  target is ≤ 50 ms: pieces relayed as they come, never buffered;
- the whole answer's time against the fake's own pace (pieces times interval).

It never fails on time: it prints figures.

    .venv/bin/python bench/answer_stream.py [--requests 20] [--pieces 40] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    ("harbour.txt", "The northern harbour closed on 3 March for the winter storms."),
    ("wheat.txt", "Wheat exports rose by a tenth after the drought in the plains ended."),
    ("copper.txt", "Copper prices rose when the mine in the north closed for repairs."),
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--pieces", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # tests.fake_chat: the fake the tests use
    from embeddings.factory import build_provider
    from embeddings.threaded import serve_in_thread
    from ingest.models import SourceFile
    from tests.fake_chat import FakeChat
    from web.app import create_app
    from web.http_server import uvicorn_options
    from web.services import open_services
    from web.settings import Settings

    reply = " ".join(f"word{n}" for n in range(args.pieces))
    token = "hf_benchTOKEN0123456789"
    with (
        tempfile.TemporaryDirectory() as data,
        FakeChat(token=token, reply=reply, piece_interval_s=args.interval) as chat,
    ):
        settings = Settings(
            SEMSEARCH_DATA_DIR=data,
            EMBEDDINGS_PROVIDER="local",  # HF_TOKEN alone would pick HF Inference
            EMBEDDINGS_CACHE="off",
            HF_TOKEN=token,
            GENERATION_MODEL="bench/chat-model",
            HF_ROUTER_URL=chat.url,
        )
        embedder = build_provider(settings.embeddings())
        with open_services(settings, embedder=embedder) as services:
            files = [SourceFile(name, text.encode()) for name, text in DOCUMENTS]
            assert all(o.status == "done" for o in services.pipeline.ingest_many(files))
        app = create_app(settings, embedder=embedder)
        sources_ms: list[float] = []
        first_ms: list[float] = []
        relay_ms: list[float] = []
        overhead_ms: list[float] = []
        with (
            serve_in_thread(app, lifespan="on", **uvicorn_options()) as url,
            httpx.Client() as client,
        ):
            body = {"q": "When did the northern harbour close?", "stream": True}
            client.post(f"{url}/api/answer", json=body).read()  # warm up
            for _ in range(args.requests):
                received: list[float] = []
                sent = time.monotonic()
                with client.stream("POST", f"{url}/api/answer", json=body) as response:
                    event = ""
                    for line in response.iter_lines():
                        now = time.monotonic()
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == "sources":
                            sources_ms.append((now - sent) * 1000)
                        elif line.startswith("data: ") and event == "delta":
                            received.append(now)
                ended = time.monotonic()
                written = list(chat.sent_at)
                assert len(received) == len(written) == args.pieces, (len(received), len(written))
                delays = [(r - w) * 1000 for r, w in zip(received, written, strict=True)]
                first_ms.append(delays[0])
                relay_ms.extend(delays[1:])
                overhead_ms.append((ended - sent) * 1000 - args.pieces * args.interval * 1000)
        embedder.close()

    print(
        f"\n{args.requests} streamed answers of {args.pieces} pieces, one every "
        f"{args.interval * 1000:.0f} ms from the fake model\n"
    )
    print("| figure | median | p95 | max |")
    print("|---|---|---|---|")
    for name, values in (
        ("`sources` event after the request (ms)", sources_ms),
        ("first piece: client read minus fake wrote (ms)", first_ms),
        ("other pieces: client read minus fake wrote (ms)", relay_ms),
        ("whole answer minus the fake's own pace (ms)", overhead_ms),
    ):
        print(
            f"| {name} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} | "
            f"{max(values):.1f} |"
        )
    print(f"\nrelay target ≤ 50 ms: {'holds' if max(relay_ms + first_ms) <= 50 else 'missed'}")


if __name__ == "__main__":
    main()
