"""Query and document prompts: the rule, and what each provider really embeds."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from embeddings.local import LocalProvider
from embeddings.prompts import BGE_QUERY, automatic_prompts, resolve_prompts
from embeddings.remote import EndpointProvider
from embeddings.serverless import HFInferenceProvider
from embeddings.settings import EmbeddingSettings
from tests.fake_hf import FakeHuggingFace
from tests.remote_support import FAST, TOKEN, hf_settings
from web.settings import Settings


@pytest.mark.parametrize(
    ("model", "query", "document"),
    [
        ("intfloat/e5-small-v2", "query: ", "passage: "),
        ("intfloat/multilingual-e5-large", "query: ", "passage: "),
        ("e5-base", "query: ", "passage: "),
        ("BAAI/bge-small-en-v1.5", BGE_QUERY, ""),
        ("BAAI/bge-large-en", BGE_QUERY, ""),
        ("BAAI/bge-m3", "", ""),
        ("BAAI/bge-small-zh-v1.5", "", ""),
        ("sentence-transformers/all-MiniLM-L6-v2", "", ""),
        ("thenlper/gte-base", "", ""),
        ("some/model-with-e55-in-it", "", ""),
        ("", "", ""),
    ],
)
def test_automatic_prompts_by_model_id(model: str, query: str, document: str) -> None:
    assert automatic_prompts(model) == (query, document)


def test_blank_none_and_literal_settings() -> None:
    auto = resolve_prompts("intfloat/e5-small-v2", "", "  ")
    assert (auto.query, auto.document) == ("query: ", "passage: ")
    assert auto.query_automatic and auto.document_automatic
    forced = resolve_prompts("intfloat/e5-small-v2", "None", "none")
    assert (forced.query, forced.document) == ("", "")
    assert not forced.query_automatic
    literal = resolve_prompts("sentence-transformers/all-MiniLM-L6-v2", "search_query: ", "")
    assert (literal.query, literal.document) == ("search_query: ", "")
    assert "search_query" in literal.describe()


def test_app_settings_pass_prompts_through_unstripped() -> None:
    settings = Settings(EMBEDDINGS_QUERY_PROMPT="query: ", EMBEDDINGS_DOCUMENT_PROMPT="none")
    embedding = settings.embeddings()
    assert embedding.query_prompt == "query: " and embedding.document_prompt == "none"


def router(server: FakeHuggingFace, model: str, **overrides: object) -> HFInferenceProvider:
    return HFInferenceProvider(hf_settings(server, model=model, **overrides), retry=FAST)


@pytest.mark.parametrize(
    ("model", "overrides", "sent_document", "sent_query"),
    [
        ("intfloat/e5-small-v2", {}, "passage: a chunk", "query: a question"),
        ("sentence-transformers/all-MiniLM-L6-v2", {}, "a chunk", "a question"),
        ("BAAI/bge-small-en-v1.5", {}, "a chunk", BGE_QUERY + "a question"),
        (
            "intfloat/e5-small-v2",
            {"query_prompt": "none", "document_prompt": "none"},
            "a chunk",
            "a question",
        ),
        (
            "sentence-transformers/all-MiniLM-L6-v2",
            {"query_prompt": "search_query: ", "document_prompt": "search_document: "},
            "search_document: a chunk",
            "search_query: a question",
        ),
    ],
)
def test_the_router_receives_the_prompts(
    hf: FakeHuggingFace,
    model: str,
    overrides: dict[str, str],
    sent_document: str,
    sent_query: str,
) -> None:
    p = router(hf, model, **overrides)
    try:
        [vector] = p.embed_documents(["a chunk"])
        query_vector = p.embed_query("a question")
    finally:
        p.close()
    assert [r.inputs for r in hf.requests] == [[sent_document], [sent_query]]
    # The vector is the one for what was sent: the prompt is part of the text embedded.
    assert vector == pytest.approx(FakeHuggingFace.vector_for(sent_document))
    assert query_vector == pytest.approx(FakeHuggingFace.vector_for(sent_query))


def test_an_endpoint_receives_the_prompts_too(hf: FakeHuggingFace) -> None:
    settings = EmbeddingSettings(
        endpoint=f"{hf.url}/v1/embeddings", model="intfloat/e5-base-v2", token=SecretStr(TOKEN)
    )
    p = EndpointProvider(settings, retry=FAST)
    try:
        p.embed_documents(["a chunk"])
        p.embed_query("a question")
    finally:
        p.close()
    assert [r.inputs for r in hf.requests] == [["passage: a chunk"], ["query: a question"]]


def test_local_prompts_are_prepended(local_provider: LocalProvider) -> None:
    assert (local_provider.query_prompt, local_provider.document_prompt) == ("", "")
    prompted = LocalProvider(
        EmbeddingSettings(provider="local", query_prompt="query: ", document_prompt="passage: ")
    )
    try:
        assert (prompted.query_prompt, prompted.document_prompt) == ("query: ", "passage: ")
        query = prompted.embed_query("trace compilation")
        [document] = prompted.embed_documents(["trace compilation"])
        [plain_query, plain_document] = local_provider.embed_documents(
            ["query: trace compilation", "passage: trace compilation"]
        )
        assert prompted.cache_namespace()["document_prompt"] == "passage: "
    finally:
        prompted.close()
    assert query == pytest.approx(plain_query, abs=1e-5)
    assert document == pytest.approx(plain_document, abs=1e-5)
    assert query != pytest.approx(document, abs=1e-3)
