"""The pages' highlighting: one compiled pattern per query, not per hit, and a bounded one.

A page of 100 hits used to compile the query's pattern 100 times, with every term of a
2,000-character query in it.
"""

from __future__ import annotations

from search.snippets import MAX_SNIPPET_TERMS
from web.templating import highlight, highlighter


def test_the_query_is_compiled_once_for_every_hit() -> None:
    highlighter.cache_clear()
    query = "harbour ferries dawn"
    pages = [highlight(f"Hit {n}: the harbour opened at dawn.", query) for n in range(100)]
    assert all("<mark>harbour</mark>" in page and "<mark>dawn</mark>" in page for page in pages)
    assert highlighter.cache_info().misses == 1


def test_a_long_query_marks_at_most_the_capped_number_of_terms() -> None:
    words = [f"term{n}" for n in range(300)]
    text = " ".join(words)
    marked = str(highlight(text, " ".join(words)))
    assert marked.count("<mark>") == MAX_SNIPPET_TERMS
    assert "<mark>term0</mark>" in marked and "<mark>term299</mark>" not in marked


def test_text_is_escaped_before_it_is_marked() -> None:
    marked = str(highlight("<b>x</b> lt harbour", "lt harbour"))
    assert "&lt;b&gt;" in marked and "<mark>harbour</mark>" in marked and "&<mark>" not in marked
