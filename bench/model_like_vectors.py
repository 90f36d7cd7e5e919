"""Dense vectors shaped like the bundled model's, for benchmarks at sizes it cannot embed here.

Embedding 1,000,000 chunks with the bundled model takes hours on 2 cores (45-58 chunks/s,
"Ingestion throughput" in docs/benchmarks.md), and random normalised vectors are the hardest
case for an HNSW graph: the model's vectors are far from isotropic, so a recall measured on
random ones says little of the product's. These are drawn from a Gaussian with the mean and
covariance of ``--fit`` real chunk embeddings (windows of the labelled corpora, spread over all
three, embedded by the bundled model), then normalised. They keep the model's spread over
directions (its covariance spectrum), not its clusters; `bench/hnsw_build.py --model-like`
sets the graph's recall on them against the recall on the model's own vectors at the same
size, which says whether they flatter the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class ModelLikeVectors:
    """Draws normalised vectors from N(mean, covariance) of the model's embeddings ``real``."""

    def __init__(self, real: np.ndarray) -> None:
        real = np.asarray(real, dtype=np.float64)
        self.fitted_on = len(real)
        self.mean = real.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(real, rowvar=False))
        self.spectrum = values[::-1].clip(min=0)
        self._factor = vectors * np.sqrt(values.clip(min=0))  # factor @ factor.T == covariance

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        points = rng.standard_normal((count, len(self.mean))) @ self._factor.T + self.mean
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        return points.astype(np.float32)

    def describe(self) -> str:
        """How the fit went, and how concentrated the spectrum is (the share of the variance in
        the first 10 and 50 of 384 directions; an isotropic Gaussian has 0.03 and 0.13)."""
        share = np.cumsum(self.spectrum) / self.spectrum.sum()
        return (
            f"model-like dense vectors: Gaussian fitted on {self.fitted_on:,} chunk embeddings; "
            f"variance in the first 10 / 50 directions "
            f"{share[9]:.2f} / {share[49]:.2f}"
        )


def spread_sample(items: Sequence[T], count: int) -> list[T]:
    """``count`` items taken evenly over ``items`` (so every corpus is in the fit)."""
    step = max(1, len(items) // count)
    return list(items[::step][:count])
