"""Timing helpers shared by the benchmarks: medians of repeated, interleaved runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["median", "median_pair"]


def median(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn``."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def median_pair(ours: Callable[[], Any], bare: Callable[[], Any], repeats: int,
                setup: Callable[[], Any] | None = None) -> tuple[float, float]:
    """Interleave the two callables; return (median ours, median bare) in seconds.

    ``setup`` runs untimed before each call of ``ours``. Interleaving spreads the
    noise of a shared machine evenly over both.
    """
    a, b = [], []
    for _ in range(repeats):
        for fn, acc in ((bare, b), (ours, a)):
            if setup is not None and fn is ours:
                setup()
            start = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)
