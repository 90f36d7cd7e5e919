"""The text-generation node's connection check: one tiny answer asked for now, reported.

Shared by ``/settings`` ("Test connection"), ``POST /api/generation/check`` and ``semsearch
generation check``. It reports, it never raises: an answer that could not be had is the report's
``error``, worded as the node words it (``generation.diagnose``), the token taken out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from generation.client import ChatClient
from generation.errors import GenerationError
from generation.settings import GenerationSettings, chat_url, resolve_provider
from generation.wire import Message
from inference.redact import redact_url, redact_urls_in

PROBE = [Message("user", "Reply with the single word OK.")]


@dataclass
class GenerationReport:
    """The outcome of one probe answer (serialisable as JSON by the API and the CLI)."""

    ok: bool
    provider: str
    reason: str
    model: str | None
    endpoint: str | None
    took_ms: float | None
    reply: str | None
    error: str | None
    token_set: bool


def check_connection(
    client: ChatClient | None, settings: GenerationSettings, *, not_open: str | None = None
) -> GenerationReport:
    """Ask ``client`` for a short answer now. With no client (answers are off, or the settings
    could not open one: ``not_open`` says why), the report says so and nothing is sent."""
    token = settings.token.get_secret_value().strip()
    try:
        provider, reason = resolve_provider(settings)
    except GenerationError as exc:
        provider, reason = "none", exc.message
    endpoint: str | None = None
    if provider in ("hf", "endpoint"):
        try:
            endpoint = redact_url(chat_url(settings, provider))
        except GenerationError:
            endpoint = None
    report = GenerationReport(
        ok=False,
        provider=provider,
        reason=reason,
        model=settings.model.strip() or None,
        endpoint=endpoint,
        took_ms=None,
        reply=None,
        error=None,
        token_set=bool(token),
    )
    if client is None:
        report.error = not_open or reason
        return report
    started = time.perf_counter()
    try:
        completion = client.complete(PROBE)
        report.reply = completion.text.strip()[:200]
        report.ok = True
    except GenerationError as exc:
        report.error = exc.message
    except Exception as exc:  # a diagnostic must report, not crash the page
        report.error = f"{type(exc).__name__}: {exc}"
    report.took_ms = round((time.perf_counter() - started) * 1000, 1)
    if report.error:
        if token:
            report.error = report.error.replace(token, "***")
        report.error = redact_urls_in(report.error, settings.endpoint.strip())
    return report
