"""A loopback fake of an OpenAI-compatible chat-completions server (the Hugging Face router's
``/v1/chat/completions``, TGI, vLLM), speaking the exact wire format over real HTTP.

Plain answers are one ``chat.completion`` body; streamed ones are Server-Sent Events: one
``data: {chat.completion.chunk}`` per word of the reply, a usage chunk with no choices, then
``data: [DONE]``, each written and flushed as it goes (``piece_interval_s`` apart), with no
Content-Length, on a connection closed at the end. The reply is ``reply`` when set, else built
from the last user message, so tests can tell what the model was sent.

Scripting, for what the real services do when they fail:

- ``fail_next(status, body, headers)``: the next request is answered so (the default bodies are
  the router's own wordings: ``ERRORS``);
- ``known_models``: any other model gets the router's 400 ``model_not_supported``;
- ``stream_trouble(after, kind)``: the next stream, after ``after`` pieces, sends an error
  chunk (``"error"``), a chunk that is not JSON (``"malformed"``), stalls past any read
  timeout (``"stall"``) or drops the connection (``"drop"``);
- ``first_piece_delay_s``: silence before the first piece of every stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

ERRORS: dict[int, object] = {
    400: {"error": {"message": "Bad request", "type": "invalid_request_error"}},
    401: {"error": "Invalid username or password."},
    402: {
        "error": "You have depleted your monthly included credits for Inference Providers. "
        "Subscribe to PRO to get 20x more monthly included credits."
    },
    403: {
        "error": "This authentication method does not have sufficient permissions to call "
        "Inference Providers on behalf of user someone"
    },
    404: {"error": "Not Found"},
    429: {"error": "Too Many Requests"},
    500: {"error": "Internal Server Error"},
    503: {"error": "Model is currently loading", "estimated_time": 0.05},
}


def not_supported_body(model: str) -> dict[str, object]:
    """The router's answer for a model no enabled provider serves (OpenAI's error shape)."""
    return {
        "error": {
            "message": f"The requested model '{model}' is not supported by any provider you "
            "have enabled.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_supported",
        }
    }


@dataclass
class ChatRequest:
    headers: dict[str, str]
    json: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.json.get("messages", []))


@dataclass
class _Scripted:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


class FakeChat(LoopbackServer):
    """``with FakeChat(token=...) as chat:``, then point the node at ``chat.url`` (the router's
    base, for ``HF_ROUTER_URL``) or at ``chat.v1`` (an endpoint's base, for
    ``GENERATION_ENDPOINT``)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        known_models: set[str] | None = None,
        reply: str | None = None,
        piece_interval_s: float = 0.0,
    ) -> None:
        self.token = token
        self.known_models = known_models
        self.reply = reply
        self.piece_interval_s = piece_interval_s
        self.first_piece_delay_s = 0.0
        self.requests: list[ChatRequest] = []
        #: ``time.monotonic()`` when each piece of the latest stream was written (benchmarks).
        self.sent_at: list[float] = []
        self._scripted: deque[_Scripted] = deque()
        self._trouble: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()
        super().__init__(name="fake-chat")

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def fail_next(
        self, status: int, body: object = None, headers: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self._scripted.append(
                _Scripted(status, ERRORS.get(status, {}) if body is None else body, headers or {})
            )

    def stream_trouble(self, after: int, kind: str) -> None:
        assert kind in ("error", "malformed", "stall", "drop"), kind
        with self._lock:
            self._trouble.append((after, kind))

    def reply_to(self, messages: list[dict[str, str]]) -> str:
        if self.reply is not None:
            return self.reply
        last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        return f"You asked: {' '.join(last.split()[:20])}"

    # -- answering ----------------------------------------------------------------------------

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> _Scripted | ChatRequest:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _Scripted(400, {"error": "body is not JSON"})
        with self._lock:
            self.requests.append(ChatRequest(headers, body))
            if self._scripted:
                return self._scripted.popleft()
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return _Scripted(401, ERRORS[401])
        if path != "/v1/chat/completions":
            return _Scripted(404, ERRORS[404])
        model = str(body.get("model", ""))
        if self.known_models is not None and model not in self.known_models:
            return _Scripted(400, not_supported_body(model))
        return ChatRequest(headers, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = fake._answer(self.path, headers, raw)
                if isinstance(answer, _Scripted):
                    self._json(answer.status, answer.body, answer.headers)
                elif answer.json.get("stream"):
                    self._stream(answer)
                else:
                    self._whole(answer)

            def _json(self, status: int, body: object, extra: dict[str, str]) -> None:
                payload = (
                    body
                    if isinstance(body, bytes)
                    else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _whole(self, request: ChatRequest) -> None:
                text = fake.reply_to(request.messages)
                self._json(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": request.json.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 11, "completion_tokens": len(text.split())},
                    },
                    {},
                )

            def _stream(self, request: ChatRequest) -> None:
                with fake._lock:
                    trouble = fake._trouble.popleft() if fake._trouble else None
                words = fake.reply_to(request.messages).split(" ")
                pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                time.sleep(fake.first_piece_delay_s)
                model = request.json.get("model")
                fake.sent_at = []
                for number, piece in enumerate(pieces):
                    if trouble is not None and number == trouble[0]:
                        self._trouble(trouble[1])
                        return
                    self._event(
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion.chunk",
                            "model": model,
                            "choices": [
                                {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                            ],
                        }
                    )
                    fake.sent_at.append(time.monotonic())
                    time.sleep(fake.piece_interval_s)
                self._event(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    }
                )
                self._event(
                    {
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [],
                        "usage": {"prompt_tokens": 11, "completion_tokens": len(pieces)},
                    }
                )
                self._line("data: [DONE]")

            def _trouble(self, kind: str) -> None:
                if kind == "error":
                    self._event(
                        {
                            "error": {
                                "message": "Request failed during generation: CUDA out of memory",
                                "http_status_code": 500,
                            }
                        }
                    )
                    self._line("data: [DONE]")
                elif kind == "malformed":
                    self._line('data: {"choices": [{"delta": {"content": "cut')
                elif kind == "stall":
                    time.sleep(5)
                # "drop": return without [DONE]; the connection closes.

            def _event(self, data: object) -> None:
                self._line("data: " + json.dumps(data))

            def _line(self, text: str) -> None:
                try:
                    self.wfile.write(text.encode() + b"\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return Handler
