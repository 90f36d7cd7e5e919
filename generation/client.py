"""The chat client: one answer, whole or streamed, with the embeddings node's robustness.

Timeouts are explicit: connecting (``connect_timeout_s``), each read, i.e. the longest silence
between two pieces of an answer (``read_timeout_s``), the first token, retries included
(``first_token_timeout_s``), and the whole answer (``total_timeout_s``). Until the first token,
a 429 (after ``Retry-After``), a 503 while the model loads (after ``estimated_time``), other
5xx, timeouts, a dropped connection and an error sent in place of the first piece are tried
again with jittered backoff (``inference.attempts``); a 400, 401, 402, 403 or 404 never is, and
becomes an error that names the setting to fix (``generation.diagnose``). After the first
token nothing is tried again: what the caller relayed cannot be taken back, so a failure then
is a ``GenerationBrokenOffError``.

The token is sent only in the ``Authorization`` header and taken out of every message, log line
and error (with any password in the URL) before they leave this module.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx

from generation import diagnose
from generation.errors import (
    GenerationBrokenOffError,
    GenerationConfigError,
    GenerationError,
    GenerationOffError,
    GenerationResponseError,
)
from generation.settings import GenerationSettings, ProviderName, chat_url, resolve_provider
from generation.wire import (
    Completion,
    Delta,
    Finished,
    Message,
    StreamError,
    parse_completion,
    parse_events,
    request_body,
)
from inference.attempts import Transient, refusal, transport_problem, with_retries
from inference.redact import redact_url, redact_urls_in
from inference.retry import RetryPolicy

log = logging.getLogger("generation.client")
T = TypeVar("T")

#: What an endpoint is asked for when GENERATION_MODEL is blank: TGI's own name for its one
#: model, which llama.cpp's server ignores; vLLM and Ollama need the real name.
ENDPOINT_DEFAULT_MODEL = "tgi"


class ChatClient:
    """Chat completions from one configured service; shared by the app's threads."""

    def __init__(self, settings: GenerationSettings, *, retry: RetryPolicy | None = None) -> None:
        provider, reason = resolve_provider(settings)
        if provider == "none":
            raise GenerationOffError(reason, setting="GENERATION_PROVIDER")
        self.provider: ProviderName = provider
        self.url = chat_url(settings, provider)
        url_setting = "HF_ROUTER_URL" if provider == "hf" else "GENERATION_ENDPOINT"
        if urlparse(self.url).scheme not in ("http", "https"):
            raise GenerationConfigError(
                f"{url_setting} must be an http(s) URL, got {redact_url(self.url)!r}",
                setting=url_setting,
            )
        self._token = settings.token.get_secret_value().strip()
        if provider == "hf":
            if not settings.model.strip():
                raise GenerationConfigError(
                    "the Hugging Face router needs GENERATION_MODEL (a Hub id, optionally "
                    "with :fastest, :cheapest or :<provider>)",
                    setting="GENERATION_MODEL",
                )
            if not self._token:
                raise GenerationConfigError(
                    f"the Hugging Face router needs {settings.token_setting}",
                    setting=settings.token_setting,
                )
        self.model = settings.model.strip() or ENDPOINT_DEFAULT_MODEL
        self.settings = settings
        label = (
            f"the Hugging Face router ({self.model})"
            if provider == "hf"
            else f"the chat endpoint {redact_url(self.url)}"
        )
        self._where = diagnose.Where(
            provider, label, self.model, self.url, url_setting, settings.token_setting
        )
        self._retry = retry or RetryPolicy(deadline_s=settings.first_token_timeout_s)
        self._slots = threading.BoundedSemaphore(max(1, self._retry.max_concurrency))
        self._rng = random.Random()
        read = settings.read_timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s, read=read, write=read, pool=read
            ),
            headers={"User-Agent": "semsearch"},
            follow_redirects=False,
        )

    @property
    def label(self) -> str:
        return self._where.label

    def complete(self, messages: Sequence[Message]) -> Completion:
        """The whole answer at once (``stream: false``)."""
        body = self._body(messages, stream=False)

        def once() -> Completion:
            with self._slots:
                resp = self._send(body, stream=False)
                try:
                    resp.read()
                except httpx.TransportError as exc:
                    raise transport_problem(exc, self.settings.read_timeout_s) from exc
                finally:
                    resp.close()
            self._refuse_unless_ok(resp)
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            return parse_completion(payload, self.label)

        return self._with_retries(once)

    @contextmanager
    def stream(self, messages: Sequence[Message]) -> Iterator[Iterator[Delta | Finished]]:
        """The answer piece by piece: each ``Delta`` as the service sends it, then one
        ``Finished``. Errors before the first piece are retried or raised on entering the
        block; after it, ``GenerationBrokenOffError``. Leaving the block closes the stream."""
        body = self._body(messages, stream=True)
        started = time.monotonic()
        with self._slots:
            resp, events, first = self._with_retries(lambda: self._open(body))
            try:
                yield self._relay(events, first, started)
            finally:
                resp.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        token = "set" if self._token else "not set"
        return f"ChatClient(provider={self.provider!r}, model={self.model!r}, token={token})"

    # -- one attempt -------------------------------------------------------------------------

    def _open(
        self, body: dict[str, Any]
    ) -> tuple[httpx.Response, Iterator[Delta | Finished | StreamError], Delta | Finished]:
        """Send, and read up to the first piece: until then, anything may be tried again."""
        resp = self._send(body, stream=True)
        try:
            if not 200 <= resp.status_code < 300:
                resp.read()
                self._refuse_unless_ok(resp)
            events = parse_events(resp.iter_lines(), self.label)
            first = next(events)
        except httpx.TransportError as exc:
            resp.close()
            raise transport_problem(exc, self.settings.read_timeout_s) from exc
        except BaseException:
            resp.close()
            raise
        if isinstance(first, StreamError):
            resp.close()
            raise Transient(f"an error in place of the answer: {self._redact(first.message)}")
        return resp, events, first

    def _send(self, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = self._client.build_request("POST", self.url, json=body, headers=headers)
        try:
            return self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise diagnose.unreachable(self._where, exc) from exc
        except httpx.TransportError as exc:
            raise transport_problem(exc, self.settings.read_timeout_s) from exc

    def _refuse_unless_ok(self, resp: httpx.Response) -> None:
        if 200 <= resp.status_code < 300:
            return
        refused = refusal(resp, self._redact)
        if not refused.retryable:
            raise diagnose.http_error(self._where, refused)
        raise refused.transient()

    def _relay(
        self,
        events: Iterator[Delta | Finished | StreamError],
        first: Delta | Finished,
        started: float,
    ) -> Iterator[Delta | Finished]:
        yield first
        if isinstance(first, Finished):
            return
        pieces = 1
        limit = self.settings.total_timeout_s
        try:
            for event in events:
                if isinstance(event, StreamError):
                    raise self._broken(pieces, self._redact(event.message))
                yield event
                if isinstance(event, Finished):
                    return
                pieces += 1
                if time.monotonic() - started > limit:
                    raise self._broken(pieces, f"the answer took longer than {limit:g} s")
        except GenerationResponseError as error:  # a piece that is not JSON
            raise self._broken(pieces, self._redact(error.message)) from None
        except httpx.TimeoutException:
            raise self._broken(
                pieces, f"no piece came for {self.settings.read_timeout_s:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise self._broken(pieces, f"the connection broke ({type(exc).__name__})") from None

    def _broken(self, pieces: int, why: str) -> GenerationBrokenOffError:
        return GenerationBrokenOffError(
            f"{self.label} broke off the answer after {pieces} pieces: {why}",
            setting=self._where.url_setting,
        )

    # -- the rest ----------------------------------------------------------------------------

    def _with_retries(self, once: Callable[[], T]) -> T:
        try:
            return with_retries(
                once,
                policy=self._retry,
                deadline=time.monotonic() + self._retry.deadline_s,
                give_up=lambda why, last: diagnose.gave_up(self._where, why, last),
                rng=self._rng,
                log=log,
                node="generation",
                redact=self._redact,
            )
        except GenerationError as error:
            raise self._scrubbed(error) from None

    def _body(self, messages: Sequence[Message], *, stream: bool) -> dict[str, Any]:
        return request_body(
            messages,
            model=self.model,
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
            stream=stream,
        )

    def _redact(self, text: str) -> str:
        text = redact_urls_in(text, self.url)
        return text.replace(self._token, "***") if self._token else text

    def _scrubbed(self, error: GenerationError) -> GenerationError:
        error.message = self._redact(error.message)
        error.args = (error.message,)
        return error
