"""Chunking: token limits, exact offsets, overlap, word boundaries, pages and headings."""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.chunking import (
    MAX_CHUNK_TOKENS,
    ChunkingSettings,
    Tokenizer,
    chunk_document,
    embedding_text,
    title_line,
)
from ingest.loaders import load_document
from ingest.models import Chunk, Document, Section
from ingest.words import SEPARATORS

WORDS = [
    *("search", "engine", "vector", "cosine", "similarity", "embedding", "model", "token"),
    *("chunk", "overlap", "page", "heading", "document", "query", "ranking", "fusion"),
    *("sparse", "dense", "index", "cluster", "label", "the", "of", "and", "to", "in", "is"),
]


def _prose(rng: random.Random, sentences: int, words: tuple[int, int] = (6, 14)) -> str:
    out = []
    for _ in range(sentences):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*words)))
        out.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(out)


def _document(*sections: Section) -> Document:
    return Document(
        doc_id="0" * 64,
        filename="generated.txt",
        title="generated",
        mime="text/plain",
        size=0,
        pages=max(section.page for section in sections),
        sections=list(sections),
    )


def _assert_valid(
    document: Document, chunks: list[Chunk], tokenizer: Tokenizer, limit: int
) -> None:
    """The contract every chunk list must meet."""
    text = document.text
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    real = tokenizer.count([chunk.text for chunk in chunks])
    for chunk, tokens in zip(chunks, real, strict=True):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.tokens == tokens <= limit
        # Never inside a word: the characters around the chunk are whitespace or the edges.
        assert chunk.start == 0 or text[chunk.start - 1] in SEPARATORS
        assert chunk.end == len(text) or text[chunk.end] in SEPARATORS
    starts = [chunk.start for chunk in chunks]
    assert starts == sorted(starts)


def _section_of(document: Document, offset: int) -> Section:
    position = 0
    for section in document.sections:
        if position <= offset < position + len(section.text):
            return section
        position += len(section.text) + 2
    raise AssertionError(f"offset {offset} is in no section")


@pytest.fixture(scope="module")
def tracemonkey(eval_pdfs: Path) -> Document:
    """The 14-page paper, parsed once for this module (pypdf takes a second or two)."""
    return load_document(
        "tracemonkey-pldi09.pdf", (eval_pdfs / "tracemonkey-pldi09.pdf").read_bytes()
    )


def test_tracemonkey_chunks_fit_and_slice_exactly(
    tracemonkey: Document, tokenizer: Tokenizer
) -> None:
    document = tracemonkey
    chunks = chunk_document(document, tokenizer)
    _assert_valid(document, chunks, tokenizer, 200)
    assert {chunk.page for chunk in chunks} == set(range(1, 15))
    for chunk in chunks:
        assert _section_of(document, chunk.start).page == chunk.page
        assert _section_of(document, chunk.end - 1).page == chunk.page  # never across pages
    # Packed well: the average chunk is close to the limit, not a sliver.
    assert sum(chunk.tokens for chunk in chunks) / len(chunks) > 150


def test_token_counts_add_up_over_words(eval_pdfs: Path, tokenizer: Tokenizer) -> None:
    """The property the chunker's speed rests on, checked on real and awkward text."""
    assert getattr(tokenizer, "additive_over_whitespace", False)
    document = load_document(
        "solar-cell-paper.pdf", (eval_pdfs / "solar-cell-paper.pdf").read_bytes()
    )
    awkward = (
        "naïve\u00a0café\u3000東京タワー x\x0cy a\u2009b e.g.,(foo)[bar] ﬁnd https://x.org/a?b=c"
    )
    texts = [section.text for section in document.sections] + [awkward]
    for text in texts:
        words = [
            w for w in "".join(c if c not in SEPARATORS else " " for c in text).split(" ") if w
        ]
        assert tokenizer.count([text])[0] == sum(tokenizer.count(words))


def test_generated_text_offsets_overlap_and_sentence_ends(tokenizer: Tokenizer) -> None:
    rng = random.Random(7)
    document = _document(
        Section(_prose(rng, 60), page=1),
        Section("\n\n".join(_prose(rng, 4) for _ in range(20)), page=2),
    )
    settings = ChunkingSettings(chunk_tokens=120, overlap_tokens=20)
    chunks = chunk_document(document, tokenizer, settings)
    _assert_valid(document, chunks, tokenizer, 120)
    for before, after in itertools.pairwise(chunks):
        if before.page == after.page:
            assert after.start < before.end, "consecutive chunks of a section overlap"
            overlap = tokenizer.count([document.text[after.start : before.end]])[0]
            assert 0 < overlap <= 20
            assert before.text.endswith("."), "prose is cut at sentence ends"
        else:
            assert after.start > before.end


def test_no_overlap_when_asked(tokenizer: Tokenizer) -> None:
    document = _document(Section(_prose(random.Random(3), 80), page=1))
    chunks = chunk_document(document, tokenizer, ChunkingSettings(100, 0))
    _assert_valid(document, chunks, tokenizer, 100)
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.end


def test_pages_and_headings_are_carried(tokenizer: Tokenizer) -> None:
    rng = random.Random(11)
    document = load_document(
        "guide.md",
        (
            f"Preamble text.\n\n# Install\n\n{_prose(rng, 30)}\n\n## Configure\n\n{_prose(rng, 30)}"
        ).encode(),
    )
    chunks = chunk_document(document, tokenizer, ChunkingSettings(80, 10))
    _assert_valid(document, chunks, tokenizer, 80)
    assert chunks[0].heading is None
    assert {"Install", "Configure"} <= {c.heading for c in chunks}
    for chunk in chunks:
        assert _section_of(document, chunk.start).heading == chunk.heading
        assert chunk.page == 1


def test_a_very_long_word_is_cut_but_fits(tokenizer: Tokenizer) -> None:
    url = "https://example.org/" + "/".join(f"segment{i}-part" for i in range(300))
    assert tokenizer.count([url])[0] > 1000
    document = _document(Section(f"See {url} for the details. Then stop.", page=3))
    chunks = chunk_document(document, tokenizer, ChunkingSettings(100, 15))
    text = document.text
    real = tokenizer.count([chunk.text for chunk in chunks])
    for chunk, tokens in zip(chunks, real, strict=True):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens == tokens <= 100
        assert chunk.page == 3
    # The word stands alone, cut into pieces that cover it exactly, one after the other.
    assert chunks[0].text == "See"
    assert chunks[-1].text == "for the details. Then stop."
    pieces = chunks[1:-1]
    assert len(pieces) >= 10
    assert "".join(piece.text for piece in pieces) == url
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))


def test_five_hundred_paragraphs_are_covered(tokenizer: Tokenizer) -> None:
    rng = random.Random(500)
    body = "\n\n".join(_prose(rng, rng.randint(1, 6)) for _ in range(500))
    document = _document(Section(body, page=1))
    began = time.perf_counter()
    chunks = chunk_document(document, tokenizer)
    elapsed = time.perf_counter() - began
    _assert_valid(document, chunks, tokenizer, 200)
    covered = bytearray(len(body))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    uncovered = {body[i] for i in range(len(body)) if not covered[i]}
    assert uncovered <= set(SEPARATORS), "only whitespace between chunks is left out"
    total = tokenizer.count([body])[0]
    # Overlap adds about 15%: the chunks hold between 100% and 130% of the text's tokens.
    assert total <= sum(c.tokens for c in chunks) <= 1.3 * total
    assert len(chunks) >= math.ceil(total / 200)
    assert elapsed < 5  # generous; it takes a few milliseconds


def test_a_long_pdf_chunks_fast(tracemonkey: Document, tokenizer: Tokenizer) -> None:
    """504 dense pages (the 14-page paper 36 times, about 3 million characters)."""
    sections = tracemonkey.sections * 36
    pages = [Section(s.text, page=n) for n, s in enumerate(sections, start=1)]
    document = _document(*pages)
    began = time.perf_counter()
    chunks = chunk_document(document, tokenizer)
    elapsed = time.perf_counter() - began
    assert len({c.page for c in chunks}) == 504
    assert max(c.tokens for c in chunks) <= 200
    assert elapsed < 10  # about 0.5 s on two cores; generous for slow CI machines


def test_empty_and_whitespace_sections(tokenizer: Tokenizer) -> None:
    document = _document(Section("   ", page=1), Section("Just one line.", page=2))
    chunks = chunk_document(document, tokenizer)
    assert [(c.text, c.page) for c in chunks] == [("Just one line.", 2)]
    assert chunks[0].start == document.text.index("Just")


class _NonAdditiveTokenizer:
    """Counts characters / 3, rounded up, per text: the sum over words is not the whole."""

    def count(self, texts: Sequence[str]) -> list[int]:
        return [math.ceil(len(text) / 3) for text in texts]


def test_a_tokenizer_whose_counts_do_not_add_up_still_fits() -> None:
    tokenizer = _NonAdditiveTokenizer()
    document = _document(Section(_prose(random.Random(5), 100), page=1))
    chunks = chunk_document(document, tokenizer, ChunkingSettings(60, 10))
    _assert_valid(document, chunks, tokenizer, 60)


@pytest.mark.parametrize(
    ("chunk_tokens", "overlap_tokens"),
    [(0, 0), (MAX_CHUNK_TOKENS + 1, 10), (100, 100), (100, -1)],
)
def test_settings_are_validated(chunk_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError):
        ChunkingSettings(chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)


def test_default_settings() -> None:
    settings = ChunkingSettings()
    assert (settings.chunk_tokens, settings.overlap_tokens) == (200, 30)
    assert MAX_CHUNK_TOKENS == 254


def test_a_word_too_long_in_characters_is_cut_too(tokenizer: Tokenizer) -> None:
    """BERT reads any word over 100 characters as one [UNK]; 5,000 of them are still cut."""
    blob = "a" * 5_000
    document = _document(Section(f"Start. {blob} End.", page=1))
    chunks = chunk_document(document, tokenizer, ChunkingSettings(100, 10))
    pieces = [chunk for chunk in chunks if set(chunk.text) == {"a"}]
    assert "".join(piece.text for piece in pieces) == blob
    assert all(len(piece.text) <= 16 * 100 for piece in pieces)
    assert all(document.text[c.start : c.end] == c.text for c in chunks)


def test_the_title_line_fits_what_the_chunks_leave_of_the_window(tokenizer: Tokenizer) -> None:
    title = "Trace-based Just-in-Time Type Specialization for Dynamic Languages"
    assert title_line(f"  {title} \n", tokenizer, ChunkingSettings(chunk_tokens=200)) == title
    six_left = ChunkingSettings(chunk_tokens=MAX_CHUNK_TOKENS - 6, overlap_tokens=30)
    cut = title_line(title, tokenizer, six_left)
    assert title.startswith(cut) and 0 < tokenizer.count([cut])[0] <= 6
    whole_window = ChunkingSettings(chunk_tokens=MAX_CHUNK_TOKENS, overlap_tokens=30)
    assert title_line(title, tokenizer, whole_window) == ""  # chunks of the whole window
    assert embedding_text("Notes", "The bank held rates.") == "Notes\nThe bank held rates."
    assert embedding_text("", "The bank held rates.") == "The bank held rates."
