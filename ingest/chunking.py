"""Document → Chunks: passages sized in model tokens, cut at the best boundary, with overlap.

Why this shape:

* Sizes are in the embedding model's tokens, not characters, because the model silently drops
  whatever goes past its ``max_seq_length`` (256 for all-MiniLM-L6-v2).
* Chunks never cross sections, so each keeps an exact page number and heading.
* A chunk ends at the strongest break found in the last half of its window (paragraph, then
  sentence, then line, then word), never inside a word; only a single "word" longer than a
  whole chunk (a giant URL, a base64 blob, unspaced CJK text) is cut by characters.
* The next chunk starts about ``overlap_tokens`` back, preferably at a sentence start, so a
  passage cut in two is still found whole in one of them.
* Offsets are into ``document.text`` and the chunk text is exactly that slice, so a hit can be
  highlighted in the original text without searching for it.

Speed: each distinct word is tokenized once (one batch per document) and a chunk's size is a
difference of prefix sums, which is exact for tokenizers whose counts add up over whitespace
(BERT's WordPiece does). For any other tokenizer the chunks are counted again and re-cut
tighter where needed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ingest.models import Chunk, Document
from ingest.tokens import Tokenizer, WordPieceCounter, load_default_tokenizer
from ingest.words import SENTENCE, Words, split_words

__all__ = [
    "MAX_CHUNK_TOKENS",
    "ChunkingSettings",
    "Tokenizer",
    "WordPieceCounter",
    "chunk_document",
    "embedding_text",
    "load_default_tokenizer",
    "title_line",
]

# all-MiniLM-L6-v2 reads 256 tokens; [CLS] and [SEP] take two of them.
MAX_CHUNK_TOKENS = 254
# A break is looked for only once the chunk holds this share of chunk_tokens, so a strong
# break early in the window does not leave a tiny chunk.
MIN_FILL = 0.5
# Cut points for an over-long word are moved to just after one of these when one is near.
_WORD_CUT_AFTER = frozenset("/?&=#-_.,;:|\u3001\uff0c\u3002")  # and CJK commas, full stop
_MAX_RECUT_ROUNDS = 8
# A single word longer than this many characters per chunk token is cut too, whatever its
# token count: BERT reads any word over 100 characters as one [UNK] token, so 5 MB of "aaaa…"
# would otherwise be one "fitting" chunk of 5 MB.
MAX_CHARS_PER_TOKEN = 16
MAX_COUNTED_WORD_CHARS = MAX_CHARS_PER_TOKEN * MAX_CHUNK_TOKENS

Span = tuple[int, int, int]  # start, end (character offsets in document.text), tokens


@dataclass(frozen=True)
class ChunkingSettings:
    """Chunk size and overlap in model tokens (special tokens not included)."""

    chunk_tokens: int = 200
    overlap_tokens: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_tokens <= MAX_CHUNK_TOKENS:
            raise ValueError(
                f"chunk_tokens must be between 1 and {MAX_CHUNK_TOKENS} (the model reads 256"
                f" tokens including 2 special ones), got {self.chunk_tokens}"
            )
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError(
                f"overlap_tokens must be at least 0 and less than chunk_tokens"
                f" ({self.chunk_tokens}), got {self.overlap_tokens}"
            )


def title_line(
    title: str, tokenizer: Tokenizer, settings: ChunkingSettings = ChunkingSettings()
) -> str:
    """The document's title as it goes before each of its passages when they are embedded
    (``embedding_text``): one line of whole words within what ``settings``' chunks leave of the
    model's window (``MAX_CHUNK_TOKENS`` less the chunk size), so that title and passage
    together still fit it; nothing when chunks take the whole window."""
    budget = MAX_CHUNK_TOKENS - settings.chunk_tokens
    words = title.split()
    if budget <= 0 or not words:
        return ""
    counts = tokenizer.count(words)
    kept, used = [], 0
    for word, count in zip(words, counts, strict=True):
        if used + count > budget:
            break
        kept.append(word)
        used += count
    return " ".join(kept)


def embedding_text(title_line: str, text: str) -> str:
    """What the model embeds for a passage: its document's title line, then its text.

    A passage deep in a document rarely names what the document is about; the title gives
    every passage its topic. Measured with the bundled model (docs/quality.md, "Passage
    context"): dense retrieval gains on every benchmark. Only the vector sees the title: BM25,
    snippets and the stored text are the passage alone."""
    return f"{title_line}\n{text}" if title_line else text


def chunk_document(
    document: Document, tokenizer: Tokenizer, settings: ChunkingSettings = ChunkingSettings()
) -> list[Chunk]:
    """Cut every section into chunks of at most ``settings.chunk_tokens`` tokens, in order."""
    text = document.text
    words = split_words(text)
    prefix = _prefix_sums(_word_counts(words.texts, tokenizer))
    exact = bool(getattr(tokenizer, "additive_over_whitespace", False))
    chunks: list[Chunk] = []
    section_start = 0
    for section in document.sections:
        section_end = section_start + len(section.text)
        first = int(np.searchsorted(words.starts, section_start, side="left"))
        stop = int(np.searchsorted(words.starts, section_end, side="left"))
        cutter = _SectionCutter(text, words, prefix, tokenizer, first, stop)
        spans = cutter.cut(settings) if exact else cutter.cut_checked(settings)
        for start, end, tokens in spans:
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=text[start:end],
                    page=section.page,
                    start=start,
                    end=end,
                    heading=section.heading,
                    tokens=tokens,
                    ocr=section.ocr,
                )
            )
        section_start = section_end + 2  # Document.text joins sections with "\n\n"
    return chunks


def _word_counts(texts: list[str], tokenizer: Tokenizer) -> npt.NDArray[np.int64]:
    """Tokens per word, tokenizing each distinct word once: prose repeats its words a lot.

    A word longer than any chunk could hold is not counted whole (one megabyte-long "word" is a
    single, slow, unparallelised tokenizer call); its length stands in, marking it for cutting.
    """
    distinct = list(dict.fromkeys(texts))
    counted = [word for word in distinct if len(word) <= MAX_COUNTED_WORD_CHARS]
    counts = dict(zip(counted, tokenizer.count(counted), strict=True))
    counts.update((word, len(word)) for word in distinct if len(word) > MAX_COUNTED_WORD_CHARS)
    return np.fromiter(map(counts.__getitem__, texts), dtype=np.int64, count=len(texts))


def _prefix_sums(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``prefix[j] - prefix[i]`` is the token count of words i..j-1."""
    return np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(counts)))


class _SectionCutter:
    """Cuts the words ``first..stop-1`` of one section into chunk spans."""

    def __init__(
        self,
        text: str,
        words: Words,
        prefix: npt.NDArray[np.int64],
        tokenizer: Tokenizer,
        first: int,
        stop: int,
    ) -> None:
        self.text = text
        self.words = words
        self.prefix = prefix
        self.tokenizer = tokenizer
        self.first = first
        self.stop = stop

    def cut_checked(self, settings: ChunkingSettings) -> list[Span]:
        """For tokenizers whose counts do not add up over words: count each chunk for real,
        and cut again with a tighter budget until every chunk fits."""
        limit = settings.chunk_tokens
        for _ in range(_MAX_RECUT_ROUNDS):
            spans = self.cut(settings, budget=limit)
            counted = self.tokenizer.count([self.text[start:end] for start, end, _ in spans])
            over = max((n - settings.chunk_tokens for n in counted), default=0)
            if over <= 0:
                return [(start, end, n) for (start, end, _), n in zip(spans, counted, strict=True)]
            limit = max(1, limit - over)
        raise ValueError(f"could not fit chunks into {settings.chunk_tokens} tokens")

    def cut(self, settings: ChunkingSettings, *, budget: int | None = None) -> list[Span]:
        """Runs of ordinary words are packed; a word longer than a chunk stands alone, cut."""
        limit = budget or settings.chunk_tokens
        counts = np.diff(self.prefix[self.first : self.stop + 1])
        spans: list[Span] = []
        run_start = self.first
        lengths = (
            self.words.ends[self.first : self.stop] - self.words.starts[self.first : self.stop]
        )
        too_big = (counts > limit) | (lengths > MAX_CHARS_PER_TOKEN * limit)
        for giant in (self.first + np.flatnonzero(too_big)).tolist():
            spans.extend(self._pack(run_start, giant, limit, settings.overlap_tokens))
            spans.extend(self._cut_word(giant, limit))
            run_start = giant + 1
        spans.extend(self._pack(run_start, self.stop, limit, settings.overlap_tokens))
        return spans

    def _pack(self, first: int, stop: int, limit: int, overlap: int) -> list[Span]:
        """Greedy packing of words ``first..stop-1`` (each at most ``limit`` tokens)."""
        prefix, breaks, words = self.prefix, self.words.breaks, self.words
        spans: list[Span] = []
        start = first
        while start < stop:
            base = int(prefix[start])
            # The last word that still fits: prefix[last + 1] - base <= limit.
            last = min(int(np.searchsorted(prefix, base + limit, side="right")) - 2, stop - 1)
            end = last
            if last < stop - 1:
                # An int key: a float one would make numpy convert the whole array per call.
                min_fill = base + math.ceil(MIN_FILL * limit)
                earliest = int(np.searchsorted(prefix, min_fill, side="left")) - 1
                earliest = max(earliest, start)
                if earliest <= last:
                    window = breaks[earliest : last + 1]
                    end = last - int(np.argmax(window[::-1]))  # the last of the strongest breaks
            spans.append(
                (int(words.starts[start]), int(words.ends[end]), int(prefix[end + 1]) - base)
            )
            if end >= stop - 1:
                break
            start = self._next_start(start, end, limit, overlap)
        return spans

    def _next_start(self, start: int, end: int, limit: int, overlap: int) -> int:
        """Where the next chunk starts: ``overlap`` tokens back or less, at a sentence if near."""
        if overlap <= 0:
            return end + 1
        prefix = self.prefix
        total = int(prefix[end + 1])
        candidate = int(np.searchsorted(prefix, total - overlap, side="left"))
        # Every chunk must bring at least one new word, and the new word must still fit.
        fits_next = int(np.searchsorted(prefix, int(prefix[end + 2]) - limit, side="left"))
        candidate = max(candidate, start + 1, fits_next)
        if candidate > end:
            return end + 1
        sentence_starts = np.flatnonzero(self.words.breaks[candidate - 1 : end] >= SENTENCE)
        if sentence_starts.size:
            at_sentence = candidate + int(sentence_starts[0])
            if total - int(prefix[at_sentence]) >= overlap / 2:
                return at_sentence
        return candidate

    def _cut_word(self, index: int, limit: int) -> list[Span]:
        """The last resort: a word longer than a chunk, cut into pieces that each fit."""
        word = self.words.texts[index]
        offset = int(self.words.starts[index])
        # Not counted whole when very long (see _word_counts): then cut by length first.
        total = int(self.prefix[index + 1] - self.prefix[index])
        total = total if len(word) <= MAX_COUNTED_WORD_CHARS else 0
        pending: list[tuple[int, int, int | None]] = _even_cuts(word, 0, len(word), total, limit)
        for _ in range(64):
            unknown = [(s, e) for s, e, n in pending if n is None]
            if not unknown:
                break
            found = iter(self.tokenizer.count([word[s:e] for s, e in unknown]))
            resolved: list[tuple[int, int, int | None]] = []
            for s, e, n in pending:
                n = next(found) if n is None else n
                if n > limit and e - s > 1:
                    resolved.extend(_even_cuts(word, s, e, n, limit))
                else:
                    resolved.append((s, e, n))
            pending = resolved
        return [(offset + s, offset + e, n or 0) for s, e, n in pending]


def _even_cuts(
    word: str, start: int, end: int, tokens: int, limit: int
) -> list[tuple[int, int, int | None]]:
    """Split ``word[start:end]`` into about equal parts of at most ~90% of ``limit`` tokens,
    nudging each cut to just after a nearby punctuation mark (``/``, ``&``, ``。``…)."""
    by_tokens = math.ceil(tokens / (0.9 * limit))
    by_chars = math.ceil((end - start) / (MAX_CHARS_PER_TOKEN * limit))
    parts = max(2, by_tokens, by_chars)
    step = (end - start) / parts
    cuts = [start]
    for number in range(1, parts):
        ideal = start + round(number * step)
        slack = max(1, int(step * 0.15))
        nearby = [i + 1 for i in range(ideal - slack, ideal) if word[i] in _WORD_CUT_AFTER]
        cut = nearby[-1] if nearby else ideal
        if cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return [(a, b, None) for a, b in itertools.pairwise(cuts)]
