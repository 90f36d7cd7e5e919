"""Documents grouped into labelled clusters, and placed on a 2-D map.

k-means over the document points (the normalised mean of each document's chunk vectors), k
chosen by silhouette unless the user gives one; labels are each cluster's most distinctive
terms by class-based TF-IDF (as BERTopic does); the map is a PCA projection.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import silhouette_score

from search.results import Cluster, ClusterDocument, ClusterResponse, MapPoint
from search.store import PointRecord, VectorStore

MAX_AUTO_K = 12
TERMS_PER_CLUSTER = 6
DOCUMENTS_PER_CLUSTER = 3
# Text per document used for labels: enough to be distinctive, bounded for big collections.
TEXT_PER_DOCUMENT = 20_000
SEED = 0


def cluster_documents(store: VectorStore, k: int | None = None) -> ClusterResponse:
    """Cluster every done document; ``k=None`` chooses k by silhouette."""
    records = [r for r in store.scroll({"kind": "document"}, with_vectors=True) if r.dense]
    if not records:
        return ClusterResponse(k=0, k_chosen_by="too few documents", clusters=[], points=[])
    vectors = np.asarray([r.dense for r in records], dtype=np.float32)
    labels, k_used, chosen_by = _assign(vectors, k)
    texts = _document_texts(store)
    terms = _distinctive_terms([texts.get(str(r.payload["doc_id"]), "") for r in records], labels)
    coords = _project(vectors)
    clusters = []
    for cluster_id in range(k_used):
        members = np.flatnonzero(labels == cluster_id)
        centre = vectors[members].mean(axis=0)
        central = members[np.argsort(-(vectors[members] @ centre))][:DOCUMENTS_PER_CLUSTER]
        cluster_terms = terms.get(cluster_id, [])
        clusters.append(
            Cluster(
                id=cluster_id,
                label=", ".join(cluster_terms[:3]) or f"cluster {cluster_id + 1}",
                terms=cluster_terms,
                size=len(members),
                documents=[_cluster_document(records[i]) for i in central],
            )
        )
    clusters.sort(key=lambda c: -c.size)
    points = [
        MapPoint(doc_id=str(r.payload["doc_id"]), x=float(x), y=float(y), cluster=int(c))
        for r, (x, y), c in zip(records, coords, labels, strict=True)
    ]
    return ClusterResponse(k=k_used, k_chosen_by=chosen_by, clusters=clusters, points=points)


def _assign(vectors: np.ndarray, k: int | None) -> tuple[np.ndarray, int, str]:
    n = len(vectors)
    if n < 3:
        return np.zeros(n, dtype=int), 1, "too few documents"
    if k is not None:
        k = max(1, min(k, n))
        return _kmeans(vectors, k), k, "user"
    best: tuple[float, int, np.ndarray] | None = None
    for candidate in range(2, min(MAX_AUTO_K, n - 1) + 1):
        labels = _kmeans(vectors, candidate)
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if best is None or score > best[0]:
            best = (score, candidate, labels)
    if best is None:  # n == 3 and MAX_AUTO_K allows only k=2, handled above; kept for safety
        return np.zeros(n, dtype=int), 1, "too few documents"
    return best[2], best[1], "silhouette"


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(vectors), dtype=int)
    return KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(vectors)


def _document_texts(store: VectorStore) -> dict[str, str]:
    parts: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for record in store.scroll({"kind": "chunk"}):
        doc_id = str(record.payload.get("doc_id", ""))
        if sizes[doc_id] < TEXT_PER_DOCUMENT:
            text = str(record.payload.get("text", ""))
            parts[doc_id].append(text)
            sizes[doc_id] += len(text)
    return {doc_id: " ".join(chunks) for doc_id, chunks in parts.items()}


def _distinctive_terms(texts: list[str], labels: np.ndarray) -> dict[int, list[str]]:
    """c-TF-IDF: a term's frequency in a cluster, weighted against its spread across clusters."""
    cluster_ids = sorted(set(labels.tolist()))
    joined = [
        " ".join(t for t, label in zip(texts, labels, strict=True) if label == c)
        for c in cluster_ids
    ]
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


def _project(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2)) + np.arange(len(vectors))[:, None] * [1.0, 0.0]
    coords = PCA(n_components=2, random_state=SEED).fit_transform(vectors)
    span = np.abs(coords).max() or 1.0
    return coords / span


def _cluster_document(record: PointRecord) -> ClusterDocument:
    p = record.payload
    return ClusterDocument(
        doc_id=str(p.get("doc_id", "")),
        filename=str(p.get("filename", "")),
        title=str(p.get("title", "")),
    )
