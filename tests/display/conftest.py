"""Literal service outputs (the shapes ModelService returns) for the display tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def train_data():
    return {
        "model_id": "rf", "version": 2, "model_class": "RandomForestClassifier",
        "model_module": "sklearn.ensemble._forest",
        "model_params": {"n_estimators": 100, "max_depth": 5, "random_state": 42},
        "task_type": "classification", "train_score": 0.99, "validation_score": 0.956140350877193,
        "scoring": "accuracy", "training_samples": 455, "validation_samples": 114,
        "feature_count": 30, "feature_names": None,
        "training_date": "2025-01-02T03:04:05.123456+00:00", "fit_seconds": 0.1234,
        "status": "saved", "data_fingerprint": "sha256:" + "ab" * 32, "file_format": "joblib",
    }


@pytest.fixture
def cv_data():
    return {
        "model_class": "RandomForestClassifier", "mean_score": 0.95, "std_score": 0.0063,
        "cv_scores": [0.94, 0.95, 0.96, 0.95, 0.95], "scoring": "accuracy", "cv_folds": 5,
        "fit_time": [0.11, 0.12, 0.1, 0.13, 0.1], "score_time": [0.01] * 5,
    }


@pytest.fixture
def classification_eval():
    return {
        "model_id": "rf", "version": 1, "model_class": "RandomForestClassifier",
        "task_type": "classification", "n_samples": 100, "accuracy": 0.91, "precision": 0.9123,
        "recall": 0.91, "f1_score": 0.9099, "roc_auc": 0.9712,
        "classification_report": {
            "0": {"precision": 0.9, "recall": 0.92, "f1-score": 0.91, "support": 50.0},
            "1": {"precision": 0.92, "recall": 0.9, "f1-score": 0.91, "support": 50.0},
            "accuracy": 0.91,
            "macro avg": {"precision": 0.91, "recall": 0.91, "f1-score": 0.91, "support": 100.0},
        },
        "confusion_matrix": [[46, 4], [5, 45]], "labels": [0, 1],
    }


@pytest.fixture
def regression_eval():
    return {
        "model_id": "ridge", "version": 3, "model_class": "Ridge", "task_type": "regression",
        "n_samples": 80, "mse": 2900.17, "rmse": 53.85, "mae": 43.2, "r2_score": 0.4731,
    }
