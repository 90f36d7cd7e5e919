"""Shared fixtures: the model loads once per test session; eval data is read from ../shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures of the HTTP-provider tests (the fake HF server), shared by several modules.
pytest_plugins = ["tests.remote_support", "tests.store_support"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_EVAL = REPO_ROOT.parent / "shared" / "eval"
PDFS = SHARED_EVAL / "pdfs"


@pytest.fixture(scope="session")
def eval_pdfs() -> Path:
    """The real PDFs of ../shared/eval/pdfs; tests that need them skip when it is absent."""
    if not PDFS.is_dir():
        pytest.skip(f"evaluation PDFs not found at {PDFS} (../shared is absent in this checkout)")
    return PDFS


@pytest.fixture(scope="session")
def local_provider() -> Iterator[object]:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from embeddings.local import LocalProvider
    from embeddings.settings import EmbeddingSettings

    provider = LocalProvider(EmbeddingSettings(provider="local"))
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def tokenizer() -> object:
    """The bundled model's tokenizer, used by the chunker to count tokens."""
    from ingest.chunking import load_default_tokenizer

    return load_default_tokenizer()
