"""The text-generation node against FakeChat, a real loopback server speaking the router's and
OpenAI-compatible servers' chat-completions wire format: what it sends, what it relays, and
how every failure is worded, retried or not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from generation.client import ChatClient
from generation.errors import (
    GenerationBrokenOffError,
    GenerationConfigError,
    GenerationError,
    GenerationOffError,
    GenerationServiceError,
    GenerationUnavailableError,
)
from generation.settings import GenerationSettings, chat_url, resolve_provider
from generation.wire import Delta, Finished, Message
from inference.retry import RetryPolicy
from tests.fake_chat import FakeChat
from tests.processes import free_port

TOKEN = "hf_chatTOKEN0123456789"
MODEL = "meta-llama/Llama-3.1-8B-Instruct:cheapest"
FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.01, max_retry_wait_s=1.0, deadline_s=10.0)
QUESTION = [
    Message("system", "Answer from the sources only."),
    Message("user", "When did the harbour close for the winter storms?"),
]


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(token=TOKEN) as fake:
        yield fake


def router_client(chat: FakeChat, **overrides: object) -> ChatClient:
    options: dict[str, object] = {
        "model": MODEL,
        "token": SecretStr(TOKEN),
        "router_url": chat.url,
        "read_timeout_s": 2.0,
        **overrides,
    }
    return ChatClient(GenerationSettings(**options), retry=FAST)  # type: ignore[arg-type]


def streamed(client: ChatClient) -> tuple[str, list[Delta | Finished]]:
    with client.stream(QUESTION) as events:
        seen = list(events)
    return "".join(e.text for e in seen if isinstance(e, Delta)), seen


def test_the_provider_is_inferred_and_its_url_built() -> None:
    token = SecretStr(TOKEN)
    assert resolve_provider(GenerationSettings())[0] == "none"
    assert resolve_provider(GenerationSettings(model=MODEL))[0] == "none"  # no token
    assert resolve_provider(GenerationSettings(model=MODEL, token=token))[0] == "hf"
    endpoint = GenerationSettings(endpoint="http://127.0.0.1:8080/v1", model=MODEL, token=token)
    assert resolve_provider(endpoint)[0] == "endpoint"  # the endpoint wins
    with pytest.raises(GenerationConfigError, match="GENERATION_PROVIDER"):
        resolve_provider(GenerationSettings(provider="openai"))
    hf = GenerationSettings(router_url="https://router.huggingface.co/")
    assert chat_url(hf, "hf") == "https://router.huggingface.co/v1/chat/completions"
    for given in ("http://h:8080/v1", "http://h:8080/v1/", "http://h:8080/v1/chat/completions"):
        assert chat_url(GenerationSettings(endpoint=given), "endpoint") == (
            "http://h:8080/v1/chat/completions"
        )
    with pytest.raises(GenerationOffError, match="GENERATION_MODEL"):
        ChatClient(GenerationSettings())


def test_a_whole_answer_and_what_the_router_was_sent(chat: FakeChat) -> None:
    completion = router_client(chat).complete(QUESTION)

    assert completion.text == "You asked: When did the harbour close for the winter storms?"
    assert completion.finished.finish_reason == "stop"
    assert completion.finished.usage.prompt_tokens == 11
    (sent,) = chat.requests
    assert sent.json["model"] == MODEL  # the policy suffix passed through
    assert sent.json["stream"] is False
    assert sent.messages == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_streamed_answer_comes_piece_by_piece_then_finished(chat: FakeChat) -> None:
    text, events = streamed(router_client(chat))

    assert text == "You asked: When did the harbour close for the winter storms?"
    assert sum(isinstance(e, Delta) for e in events) == 11  # one piece per word
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.finish_reason, finished.model) == ("stop", MODEL)
    assert finished.usage.completion_tokens == 11
    (sent,) = chat.requests
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.headers["accept"] == "text/event-stream"


def test_an_endpoint_with_a_blank_model_is_asked_for_tgi_and_needs_no_token() -> None:
    with FakeChat() as chat:
        client = ChatClient(GenerationSettings(endpoint=chat.v1), retry=FAST)
        assert client.complete(QUESTION).text.startswith("You asked:")
        (sent,) = chat.requests
    assert sent.json["model"] == "tgi"
    assert "authorization" not in sent.headers


@pytest.mark.parametrize(
    ("status", "body", "words", "setting"),
    [
        (401, None, "rejected HF_TOKEN", "HF_TOKEN"),
        (402, None, "out of credits", "HF_TOKEN"),
        (403, None, "Make calls to Inference Providers", "HF_TOKEN"),
        (400, "no-provider", "no Inference Provider you have enabled", "GENERATION_MODEL"),
        (
            400,
            {"error": f"Model {MODEL} is not supported by provider 'together'."},
            "the provider 'together' does not serve",
            "GENERATION_MODEL",
        ),
        (
            400,
            {"error": "Model X is not supported for task text-generation and provider y."},
            "is not a chat",
            "GENERATION_MODEL",
        ),
        (404, None, "does not know GENERATION_MODEL", "GENERATION_MODEL"),
    ],
)
def test_refusals_name_the_setting_and_are_never_retried(
    status: int, body: object, words: str, setting: str
) -> None:
    with FakeChat(token=TOKEN, known_models={MODEL}) as chat:
        if body == "no-provider":
            client = router_client(chat, model="nobody/serves-this")
        else:
            chat.fail_next(status, body)
            client = router_client(chat)
        for call in (client.complete, lambda q: streamed_entry(client)):
            with pytest.raises(GenerationUnavailableError, match=words) as raised:
                call(QUESTION)
            assert raised.value.setting == setting
            assert raised.value.status == status
            if body != "no-provider":
                chat.fail_next(status, body)
        assert len(chat.requests) == 2  # one each: nothing retried


def streamed_entry(client: ChatClient) -> None:
    with client.stream(QUESTION) as events:
        list(events)


def test_rate_limits_and_loading_are_waited_for_before_the_first_token(chat: FakeChat) -> None:
    chat.fail_next(429, headers={"Retry-After": "0"})
    chat.fail_next(503)  # loading, with estimated_time
    chat.fail_next(502, "<html>Bad gateway</html>")
    text, _ = streamed(router_client(chat))
    assert text.startswith("You asked:")
    assert len(chat.requests) == 4


def test_what_lasts_past_the_retries_says_what_it_most_likely_means(chat: FakeChat) -> None:
    for _ in range(FAST.max_attempts):
        chat.fail_next(503)
    with pytest.raises(GenerationUnavailableError, match="still loading") as raised:
        router_client(chat).complete(QUESTION)
    assert raised.value.setting == "GENERATION_MODEL"
    assert "after 4 attempts" in raised.value.message


def test_silence_or_an_error_before_the_first_token_is_tried_again(chat: FakeChat) -> None:
    chat.stream_trouble(0, "error")  # an error chunk in place of the first piece
    chat.stream_trouble(0, "stall")  # then no first piece within the read timeout
    text, _ = streamed(router_client(chat, read_timeout_s=0.5))
    assert text.startswith("You asked:")
    assert len(chat.requests) == 3


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("error", "CUDA out of memory"),
        ("malformed", "not JSON"),
        ("stall", "no piece came for 0.5 s"),
        ("drop", "ended before it was finished"),
    ],
)
def test_after_the_first_token_a_failure_breaks_off_and_is_not_retried(
    chat: FakeChat, kind: str, why: str
) -> None:
    chat.stream_trouble(3, kind)
    relayed: list[str] = []
    client = router_client(chat, read_timeout_s=0.5)
    with (
        pytest.raises(GenerationBrokenOffError, match=why) as raised,
        client.stream(QUESTION) as events,
    ):
        relayed.extend(e.text for e in events if isinstance(e, Delta))
    assert relayed == ["You", " asked:", " When"]  # what came stays relayed
    assert "after 3 pieces" in raised.value.message
    assert len(chat.requests) == 1


def test_a_prompt_too_long_names_the_context_budget(chat: FakeChat) -> None:
    chat.fail_next(400, {"error": "This model's maximum context length is 8192 tokens."})
    with pytest.raises(GenerationServiceError, match="GENERATION_CONTEXT_TOKENS"):
        router_client(chat).complete(QUESTION)


def test_an_unreachable_endpoint_names_its_setting() -> None:
    settings = GenerationSettings(endpoint=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(GenerationUnavailableError, match="GENERATION_ENDPOINT") as raised:
        ChatClient(settings, retry=FAST).complete(QUESTION)
    assert "connection refused" in raised.value.message


def test_the_token_never_leaves_in_an_error_even_when_the_service_echoes_it(
    chat: FakeChat,
) -> None:
    echo = {"error": f"Authorization: Bearer {TOKEN} is not valid"}
    client = router_client(chat)
    for status in (401, 400, 500, 500, 500, 500):
        chat.fail_next(status, echo)
    errors: list[GenerationError] = []
    for _ in range(3):
        with pytest.raises(GenerationError) as raised:
            client.complete(QUESTION)
        errors.append(raised.value)
    assert len(errors) == 3
    for error in errors:
        assert TOKEN not in error.message and TOKEN not in str(error)
        assert "***" in error.message
    assert TOKEN not in repr(client)
