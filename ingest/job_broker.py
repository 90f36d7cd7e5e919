"""The queue between app replicas and ``semsearch worker`` processes: Dramatiq over Redis.

Why Dramatiq: its Redis broker acknowledges a message only after the actor returns (a message
being worked on sits in the worker's own "acks" set), and any worker requeues the unacknowledged
messages of a worker whose heartbeat stopped, so a worker killed mid-file leaves its file to
another without a separate reaper. It is synchronous and thread-based like the ingestion
pipeline (arq would need an event loop around it), runs inside our own ``semsearch worker``
command, and is small beside Celery (whose Redis transport redelivers only after a visibility
timeout, an hour by default). RQ moves a dead worker's job to a failed registry instead of
running it again.

The replica only enqueues; the actor's body lives in ``ingest.queue_worker``.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware, Retries

QUEUE = "ingest"
ACTOR = "ingest_upload"
# The chance, out of a million, that a Redis command also requeues dead workers' messages.
# Dramatiq's default (1,000) can leave a dead worker's file for many minutes on a quiet queue;
# a worker polls about once a second, so one in ten finds them within seconds of the timeout.
MAINTENANCE_CHANCE = 100_000
# A run stopped by a setting at fault waits, doubling from the first wait to the longest, and
# is tried again for a week before the message is given up.
PAUSE_FIRST_MS = 30_000
PAUSE_MAX_MS = 600_000
PAUSE_RETRIES = 1_000


def open_broker(url: str, collection: str, *, heartbeat_timeout_s: float) -> RedisBroker:
    """The broker of one collection's ingestion queue (its own namespace in Redis).

    Dramatiq's default middleware is left out on purpose: its TimeLimit would cut a long OCR
    short after 10 minutes (the isolated reader bounds each page instead), and its Retries
    would retry any failure; here only a stop on a setting is retried (``ingest.queue_worker``).
    """
    middleware: list[Middleware] = [
        CurrentMessage(),
        Retries(max_retries=PAUSE_RETRIES, min_backoff=PAUSE_FIRST_MS, max_backoff=PAUSE_MAX_MS),
    ]
    return RedisBroker(
        url=url,
        namespace=f"semsearch-{collection}",
        middleware=middleware,
        heartbeat_timeout=int(heartbeat_timeout_s * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def enqueue(broker: RedisBroker, job_id: str) -> None:
    broker.enqueue(
        dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(job_id,), kwargs={}, options={})
    )
