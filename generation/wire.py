"""The OpenAI chat-completions wire format, as the Hugging Face router, TGI, vLLM, llama.cpp's
server and Ollama speak it.

A request is ``{"model", "messages", "max_tokens", "temperature", "stream"}`` (and, streamed,
``"stream_options": {"include_usage": true}``, for the token counts). A plain answer is a
``chat.completion`` with ``choices[0].message.content``; a streamed one is Server-Sent Events,
``data: {chat.completion.chunk}`` with ``choices[0].delta.content``, then ``data: [DONE]``.

Servers differ in the details, so parsing is lenient where they differ and strict where a
mistake would reach the user: a chunk may lack ``finish_reason`` or ``id``, the usage may come
in the last content chunk or in one of its own with no choices, and comment lines (``: ping``)
and ``event:`` lines are skipped; but a chunk that is not JSON, or one that carries ``error``
(TGI, vLLM and llama.cpp all send ``data: {"error": …}`` when they fail mid-answer), ends the
answer with an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.errors import GenerationResponseError
from inference.wire import error_message, shorten

DONE = "[DONE]"


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed answer."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The end of an answer: why it stopped, the model that answered, and its token counts."""

    finish_reason: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class StreamError:
    """An error the server sent in the stream instead of the next piece."""

    message: str


@dataclass(frozen=True)
class Completion:
    """A whole answer."""

    text: str
    finished: Finished


def request_body(
    messages: Sequence[Message],
    *,
    model: str,
    max_tokens: int,
    temperature: float,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def parse_completion(body: object, label: str) -> Completion:
    """A ``chat.completion`` body, or ``GenerationResponseError`` saying what was wrong."""
    message = error_message(body)
    if message is not None:
        raise GenerationResponseError(f"{label} answered an error in a 2xx answer: {message}")
    choice = _first_choice(body, label)
    content = choice.get("message", {}).get("content") if isinstance(choice, dict) else None
    if not isinstance(content, str):
        raise GenerationResponseError(
            f"{label} answered a chat completion with no text: {_preview(body)}"
        )
    assert isinstance(body, dict)
    return Completion(content, _finished(body, choice))


def parse_events(lines: Iterable[str], label: str) -> Iterator[Delta | Finished | StreamError]:
    """The pieces of a streamed answer, from its lines (``httpx.Response.iter_lines``): each
    ``Delta`` as it comes, then one ``Finished`` at ``[DONE]`` (or when the stream ends after
    a finish reason), or a ``StreamError``, after which nothing more is read.

    Raises ``GenerationResponseError`` for a line that is not JSON."""
    finish_reason: str | None = None
    model: str | None = None
    usage = Usage()
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, ": ping" comments, "event:" and "id:" lines
        data = line[5:].strip()
        if data == DONE:
            yield Finished(finish_reason, model, usage)
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise GenerationResponseError(
                f"{label} sent a piece of the answer that is not JSON: {shorten(data)}"
            ) from None
        message = error_message(chunk)
        if message is not None:
            yield StreamError(message)
            return
        if not isinstance(chunk, dict):
            raise GenerationResponseError(f"{label} sent a piece that is not an object")
        model = chunk.get("model") if isinstance(chunk.get("model"), str) else model
        usage = _usage(chunk.get("usage")) or usage
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            continue  # the usage chunk has none
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            yield Delta(text)
        if isinstance(choice.get("finish_reason"), str):
            finish_reason = choice["finish_reason"]
    if finish_reason is not None:  # some servers end without [DONE]
        yield Finished(finish_reason, model, usage)
        return
    yield StreamError("the answer ended before it was finished (no [DONE])")


def _first_choice(body: object, label: str) -> Any:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise GenerationResponseError(
            f"{label} answered something that is not a chat completion: {_preview(body)}"
        )
    return choices[0]


def _finished(body: dict[str, Any], choice: Any) -> Finished:
    reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    model = body.get("model")
    return Finished(
        reason if isinstance(reason, str) else None,
        model if isinstance(model, str) else None,
        _usage(body.get("usage")) or Usage(),
    )


def _usage(value: object) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    return Usage(
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
    )


def _preview(body: object) -> str:
    return shorten(json.dumps(body)[:400]) if body is not None else "nothing"
