"""End-to-end example (``make demo`` / ``python -m jupyter_modelservice.demo``).

Trains three classifiers on scikit-learn's breast-cancer data, cross-validates
the best, compares them on a held-out test set, saves them, reloads the best in
a fresh service and prints the registry.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="./demo_models", help="models directory (default ./demo_models)")
    args = parser.parse_args(argv)

    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from jupyter_modelservice import ModelService

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    service = ModelService(models_directory=args.dir)
    print(f"Registry: {service.registry.url}")

    candidates: dict[str, tuple[Any, dict[str, Any]]] = {
        "rf": (RandomForestClassifier, {"n_estimators": 200, "random_state": 0}),
        "gb": (GradientBoostingClassifier, {"random_state": 0}),
        "logreg": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), {}),
    }
    for model_id, (model, params) in candidates.items():
        start = time.perf_counter()
        result = service.train_model(model, X_train, y_train, model_id=model_id, **params)
        service.save_model(model_id)
        ref = f"{model_id}:{result['version']}"
        print(f"trained {ref:<10} {result['model_class']:<28} "
              f"validation accuracy {result['validation_score']:.4f}  ({time.perf_counter() - start:.2f} s)")

    comparison = service.compare_models(list(candidates), X_test, y_test)
    print("\nComparison on the test set (best first):")
    with pd.option_context("display.width", 120, "display.precision", 4):
        print(comparison.drop(columns=["task_type"]).to_string(index=False))

    best = comparison.iloc[0]
    cv = service.cross_validate_model(candidates[best.model_id][0], X, y, cv_folds=5,
                                      model_id=best.model_id, **candidates[best.model_id][1])
    print(f"\n5-fold CV of {best.model_id}: {cv['mean_score']:.4f} ± {cv['std_score']:.4f}")
    service.update_model_metadata(best.model_id, {"status": "production"})

    fresh = ModelService(models_directory=args.dir)  # as after a kernel restart
    fresh.load_model(best.model_id)
    top = list(fresh.get_feature_importance(model_id=best.model_id).items())[:3]
    print(f"Reloaded {fresh.current_ref}; predictions for 5 test rows: {fresh.predict(X_test[:5]).tolist()}")
    print("Top features: " + ", ".join(f"{name} ({value:.3f})" for name, value in top))

    print("\nRegistry:")
    rows = fresh.list_models(order_by="model_id")
    listing = pd.DataFrame(rows)[["model_id", "version", "model_class", "status", "validation_score",
                                  "file_path", "training_date"]]
    print(listing.to_string(index=False))
    service.close()
    fresh.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
