"""A pipeline over the services' own parts, with what a test hands in through the parameters
``IngestPipeline`` has for it: how files are read (``read``), on how many read-ahead threads
(``read_ahead``), what counts tokens (``tokenizer``) and the store it writes through
(``store``).

``pipeline_over`` builds it as ``web.services.open_services`` builds ``services.pipeline``, on
the same store, embedder, originals and settings, so what it writes the services see; nothing
of the product is patched. ``TokenizerBreakingOn`` is the real tokenizer except on one word:
no real text makes the real chunker raise, and the runner's catch-all for a chunker bug must
still be reached.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.chunking import Tokenizer, load_default_tokenizer
from ingest.loaders import load_document
from ingest.models import ReadFile
from ingest.pipeline import IngestPipeline
from search.collection import CollectionGuard
from search.sparse import Bm25Encoder
from search.store import VectorStore
from web.services import Services


def pipeline_over(
    services: Services,
    *,
    read: ReadFile = load_document,
    read_ahead: int = 0,
    tokenizer: Tokenizer | None = None,
    store: VectorStore | None = None,
) -> IngestPipeline:
    """A pipeline like ``services.pipeline``, reading with ``read`` on ``read_ahead`` threads,
    counting tokens with ``tokenizer`` (the default model's when None) and writing through
    ``store`` (a wrapper of the services' own, say; theirs when None)."""
    store = store or services.store
    return IngestPipeline(
        store=store,
        embedder=services.embedder,
        tokenizer=tokenizer or load_default_tokenizer(),
        sparse=Bm25Encoder(),
        chunking=services.settings.chunking(),
        originals=services.originals,
        guard=CollectionGuard(store, services.embedder),
        max_upload_bytes=services.settings.max_upload_bytes,
        read=read,
        read_ahead=read_ahead,
    )


class TokenizerBreakingOn:
    """The default model's tokenizer (``ingest.chunking.Tokenizer``), except that counting a
    text containing ``word`` raises ``error``: a chunker bug that one file's text triggers."""

    def __init__(self, word: str, error: Exception) -> None:
        self._real = load_default_tokenizer()
        self._word = word
        self._error = error
        # The chunker reads this to count each distinct word once, as with the real one.
        self.additive_over_whitespace = self._real.additive_over_whitespace

    def count(self, texts: Sequence[str]) -> list[int]:
        if any(self._word in text for text in texts):
            raise self._error
        return self._real.count(texts)
