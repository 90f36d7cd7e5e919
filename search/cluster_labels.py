"""Cluster labels: each cluster's most distinctive terms by class-based TF-IDF (as BERTopic).

The text is bounded so large collections stay fast: at most ``LABEL_ITEMS_PER_CLUSTER`` members
of a cluster (a seeded sample; all of them in small clusters) contribute, each with at most
``TEXT_PER_ITEM`` characters, and a cluster with many members gets less per member so that it
stays near ``TEXT_PER_CLUSTER`` characters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from search.points import chunks_of, doc_id_of, text_of
from search.store import VectorStore

TERMS_PER_CLUSTER = 6
LABEL_ITEMS_PER_CLUSTER = 300
# Text per document: enough to be distinctive, bounded for big collections.
TEXT_PER_ITEM = 20_000
TEXT_PER_CLUSTER = 1_000_000
MIN_TEXT_PER_ITEM = 2_000
SEED = 0
_IDS_PER_SCROLL = 256


def label_members(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Per cluster, the indexes of the members whose text goes into its label."""
    rng = np.random.default_rng(SEED)
    chosen: dict[int, np.ndarray] = {}
    for cluster_id in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == cluster_id)
        if len(members) > LABEL_ITEMS_PER_CLUSTER:
            members = np.sort(rng.choice(members, LABEL_ITEMS_PER_CLUSTER, replace=False))
        chosen[cluster_id] = members
    return chosen


def text_budget(members: int) -> int:
    """Characters each of ``members`` items may contribute to its cluster's label."""
    return min(TEXT_PER_ITEM, max(MIN_TEXT_PER_ITEM, TEXT_PER_CLUSTER // max(members, 1)))


def cluster_terms(
    members: dict[int, np.ndarray], text_of: Callable[[int, int], str]
) -> dict[int, list[str]]:
    """c-TF-IDF terms per cluster; ``text_of(index, budget)`` gives a member's bounded text."""
    ids = sorted(members)
    joined = []
    for c in ids:
        budget = text_budget(len(members[c]))
        joined.append(" ".join(text_of(int(i), budget) for i in members[c]))
    return distinctive_terms(ids, joined)


def distinctive_terms(cluster_ids: Sequence[int], joined: Sequence[str]) -> dict[int, list[str]]:
    """c-TF-IDF: a term's frequency in a cluster, weighted against its spread across clusters."""
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    try:
        counts = vectorizer.fit_transform(joined).toarray().astype(np.float64)
    except ValueError:  # no usable words at all
        return {}
    words = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average_words = counts.sum() / len(cluster_ids)
    idf = np.log(1 + average_words / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    return {
        c: [
            str(words[i])
            for i in np.argsort(-scores[row])[:TERMS_PER_CLUSTER]
            if scores[row, i] > 0
        ]
        for row, c in enumerate(cluster_ids)
    }


def document_texts(store: VectorStore, doc_ids: Sequence[str], budget: int) -> dict[str, str]:
    """The chunk texts of these documents, joined; chunks stop once ``budget`` is reached."""
    parts: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    unique = sorted(set(doc_ids))
    for start in range(0, len(unique), _IDS_PER_SCROLL):
        where = chunks_of(unique[start : start + _IDS_PER_SCROLL])
        for record in store.scroll(where, batch_size=1024):
            doc_id = doc_id_of(record.payload)
            if sizes[doc_id] < budget:
                text = text_of(record.payload)
                parts[doc_id].append(text)
                sizes[doc_id] += len(text)
    return {doc_id: " ".join(chunks) for doc_id, chunks in parts.items()}
