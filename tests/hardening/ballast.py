"""Estimators for the hardening tests: a heavy one (slow to save) and a booby-trapped pickle."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Ballast(ClassifierMixin, BaseEstimator):
    """Predicts the first class; carries ``megabytes`` of random numbers so that saving takes time."""

    def __init__(self, megabytes: float = 1.0, seed: int = 0) -> None:
        self.megabytes = megabytes
        self.seed = seed

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.asarray(X).shape[1]
        n = int(self.megabytes * (1 << 20) / 8)
        self.ballast_ = np.random.default_rng(self.seed).random(n)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class Planted:
    """Unpickling this creates ``marker``: proof that a planted file's code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))
