"""A text as words with character spans, and how strong a break each gap between words is.

The chunker cuts only between words, and prefers the strongest break it can find: a blank line
(paragraph) over a sentence end, a sentence end over a line break, a line break over a plain
space. Finding words with numpy over the code points keeps a 500-page PDF (millions of
characters) well under a second; a regex match object per word would not.

"Whitespace" here is exactly what BERT's pre-tokenizer splits on after its normaliser has run:
Unicode whitespace, minus the control characters (form feed, vertical tab, NEL) that the
normaliser deletes, since deleting them glues their neighbours into one word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

SEPARATORS: Final = (
    "\t\n\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_SEPARATOR_CODES = np.array([ord(char) for char in SEPARATORS], dtype=np.uint32)
_WORD = re.compile(f"[^{re.escape(SEPARATORS)}]+")

# Break strengths, weakest first.
SPACE: Final = 1
LINE: Final = 2
SENTENCE: Final = 3
PARAGRAPH: Final = 4

# . ! ? … and the CJK full stop, exclamation and question marks.
_SENTENCE_END = np.array([ord(c) for c in ".!?\u2026\u3002\uff01\uff1f"], dtype=np.uint32)
# Closing brackets and quotes that may follow a sentence's final mark.
_CLOSERS = np.array([ord(c) for c in ")]}\"'\u201d\u2019\u00bb"], dtype=np.uint32)
_NEWLINE = ord("\n")


@dataclass(frozen=True)
class Words:
    """The words of a text, in order. ``breaks[i]`` is the strength of the gap after word i."""

    texts: list[str]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    breaks: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.texts)


def split_words(text: str) -> Words:
    """Words (maximal runs of non-separators) with their spans and the breaks after them."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    in_word = ~np.isin(codes, _SEPARATOR_CODES, kind="table")
    edges = np.diff(np.concatenate(([False], in_word, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64)
    texts = _WORD.findall(text)
    if len(texts) != len(starts):  # the two definitions of a word must agree
        raise AssertionError("word spans and word texts disagree")
    return Words(texts=texts, starts=starts, ends=ends, breaks=_breaks(text, codes, starts, ends))


def _breaks(
    text: str,
    codes: npt.NDArray[np.uint32],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
) -> npt.NDArray[np.int8]:
    count = len(starts)
    breaks = np.full(count, PARAGRAPH, dtype=np.int8)  # the end of the text is the strongest
    if count < 2:
        return breaks
    newlines = np.concatenate(([0], np.cumsum(codes == _NEWLINE)))
    in_gap = newlines[starts[1:]] - newlines[ends[:-1]]
    gaps = np.where(in_gap >= 2, PARAGRAPH, np.where(in_gap == 1, LINE, SPACE)).astype(np.int8)
    # A sentence ends with . ! ? (perhaps followed by a closing quote or bracket) and the next
    # word does not start in lower case ("e.g. this" is not a sentence end).
    last = codes[ends[:-1] - 1]
    lengths = ends[:-1] - starts[:-1]
    closed = np.isin(last, _CLOSERS, kind="table") & (lengths >= 2)
    before_closer = codes[np.maximum(ends[:-1] - 2, 0)]
    terminal = np.where(closed, before_closer, last)
    for index in np.flatnonzero(np.isin(terminal, _SENTENCE_END, kind="table") & (gaps < SENTENCE)):
        if not text[starts[index + 1]].islower():
            gaps[index] = SENTENCE
    breaks[:-1] = gaps
    return breaks
