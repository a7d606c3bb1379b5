"""The examples of spec/ModelService.md, run as written (only data and folder paths filled in)."""

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_model_training():
    service = ModelService(db_type='sqlite', models_directory='./test_models')

    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=100, n_features=10)

    from sklearn.ensemble import RandomForestClassifier
    result = service.train_model(RandomForestClassifier, X, y, n_estimators=10)

    assert 'validation_score' in result
    assert result['model_class'] == 'RandomForestClassifier'


def test_model_persistence():
    service = ModelService()

    # Train, save, and reload model
    X, y = make_classification(n_samples=100, n_features=5)
    service.train_model(RandomForestClassifier, X, y, model_id='test_model')

    # Save model
    assert service.save_model('test_model')

    # Clear current model and reload
    service.current_model = None
    assert service.load_model('test_model')

    # Test predictions
    predictions = service.predict(X[:10])
    assert len(predictions) == 10


def test_key_features_sqlite(capsys):
    features, labels = make_classification(n_samples=300, n_features=8, random_state=0)
    training_features, training_labels = features, labels
    test_features, test_labels = features[:100], labels[:100]
    new_data = features[:5]
    service = ModelService(db_type='sqlite', models_directory='./trained_models')

    results = service.train_model(
        model_class=RandomForestClassifier, X=training_features, y=training_labels,
        model_id="rf_stock_predictor_v1", validation_split=0.2,
        n_estimators=100, max_depth=10, random_state=42,
    )
    print(f"Validation Score: {results['validation_score']:.4f}")

    cv_results = service.cross_validate_model(
        model_class=RandomForestClassifier, X=features, y=labels, cv_folds=5, scoring='accuracy',
        n_estimators=100, max_depth=10,
    )
    print(f"CV Score: {cv_results['mean_score']:.4f} ± {cv_results['std_score']:.4f}")

    evaluation = service.evaluate_model(
        X_test=test_features, y_test=test_labels, model_id="rf_stock_predictor_v1",
        task_type="classification",
    )
    service.save_model(model_id="rf_stock_predictor_v1")
    for model_id, cls in [("rf_model_v1", RandomForestClassifier), ("svm_model_v1", LogisticRegression),
                          ("xgb_model_v1", RandomForestClassifier)]:
        service.train_model(cls, training_features, training_labels, model_id=model_id)
    comparison = service.compare_models(
        model_ids=["rf_model_v1", "svm_model_v1", "xgb_model_v1"],
        X_test=test_features, y_test=test_labels,
    )
    print(comparison[['model_id', 'accuracy', 'f1_score']].sort_values('accuracy', ascending=False))

    service.train_model(RandomForestClassifier, training_features, training_labels,
                        model_id="production_model_v2")
    service.save_model(model_id="production_model_v2", save_format="joblib")
    service.load_model("production_model_v2")
    predictions = service.predict(new_data)
    probabilities = service.predict_proba(new_data)

    out = capsys.readouterr().out
    assert "Validation Score: 0." in out and "CV Score: 0." in out and "svm_model_v1" in out
    assert evaluation["accuracy"] > 0.8
    assert len(predictions) == 5 and probabilities.shape == (5, 2)


class MLPipeline:
    def __init__(self, models_directory):
        self.model_service = ModelService(
            db_type='sqlite',
            models_directory=models_directory
        )

    def train_and_evaluate_models(self, X, y, model_configs):
        """Train multiple models and select the best one."""
        results = []

        for config in model_configs:
            # Train model
            result = self.model_service.train_model(
                model_class=config['model_class'],
                X=X, y=y,
                model_id=config['model_id'],
                **config['params']
            )

            # Cross-validate
            cv_result = self.model_service.cross_validate_model(
                model_class=config['model_class'],
                X=X, y=y,
                cv_folds=5,
                **config['params']
            )

            result['cv_score'] = cv_result['mean_score']
            result['cv_std'] = cv_result['std_score']
            results.append(result)

            # Save promising models
            if result['validation_score'] > 0.85:
                self.model_service.save_model(config['model_id'])

        return results

    def deploy_best_model(self, model_comparison_results):
        """Deploy the best performing model."""
        best_model = max(model_comparison_results, key=lambda x: x['validation_score'])

        # Load best model
        self.model_service.load_model(best_model['model_id'])

        # Mark as production model
        self.model_service._update_model_metadata(
            best_model['model_id'],
            {'status': 'production'}
        )

        return best_model['model_id']


class ModelRetrainingService:
    def __init__(self):
        self.model_service = ModelService()

    def retrain_models_on_new_data(self, new_X, new_y):
        """Retrain existing models with new data."""
        # Get all production models
        production_models = self.model_service.list_models(status='production')

        retraining_results = []

        for model_info in production_models:
            try:
                # Load original model metadata
                original_metadata = self.model_service._get_model_metadata(model_info['model_id'])

                # Retrain with same parameters
                new_model_id = f"{model_info['model_id']}_retrained_{datetime.now().strftime('%Y%m%d')}"

                result = self.model_service.train_model(
                    model_class=eval(original_metadata['model_class']),  # In practice, use a registry
                    X=new_X,
                    y=new_y,
                    model_id=new_model_id,
                    **original_metadata['model_params']
                )

                retraining_results.append({
                    'original_model': model_info['model_id'],
                    'new_model': new_model_id,
                    'performance_change': result['validation_score'] - model_info['validation_score']
                })

                # Save retrained model
                self.model_service.save_model(new_model_id)

            except Exception as e:
                print(f"Failed to retrain {model_info['model_id']}: {e}")

        return retraining_results


class ModelAnalysisService:
    def __init__(self):
        self.model_service = ModelService()

    def analyze_feature_importance(self, model_id: str, feature_names: list[str]):
        """Analyze feature importance for a trained model."""
        # Load model
        self.model_service.load_model(model_id)

        # Get feature importance
        importance = self.model_service.get_feature_importance(feature_names)

        if importance:
            # Sort by importance
            sorted_features = sorted(importance.items(), key=lambda x: x[1], reverse=True)

            analysis = {
                'model_id': model_id,
                'top_features': sorted_features[:10],
                'feature_count': len(sorted_features),
                'importance_distribution': {
                    'max': max(importance.values()),
                    'min': min(importance.values()),
                    'mean': np.mean(list(importance.values())),
                    'std': np.std(list(importance.values()))
                }
            }

            return analysis

        return None

    def model_performance_over_time(self, model_pattern: str):
        """Track model performance evolution over time."""
        all_models = self.model_service.list_models()

        # Filter models matching pattern
        matching_models = [
            model for model in all_models
            if model_pattern in model['model_id']
        ]

        # Sort by training date
        matching_models.sort(key=lambda x: x['training_date'])

        performance_timeline = []
        for model in matching_models:
            performance_timeline.append({
                'model_id': model['model_id'],
                'training_date': model['training_date'],
                'validation_score': model['validation_score'],
                'train_score': model['train_score']
            })

        return pd.DataFrame(performance_timeline)


def test_usage_patterns_pipeline_retraining_and_analysis(capsys):
    X, y = make_classification(n_samples=400, n_features=12, n_informative=6, random_state=0)
    pipeline = MLPipeline("./models")  # the spec uses '/models/production'
    configs = [
        {"model_class": RandomForestClassifier, "model_id": "rf",
         "params": {"n_estimators": 30, "random_state": 0}},
        {"model_class": LogisticRegression, "model_id": "logreg", "params": {"max_iter": 500}},
    ]
    results = pipeline.train_and_evaluate_models(X, y, configs)
    assert all("cv_score" in r and "cv_std" in r for r in results)
    deployed = pipeline.deploy_best_model(results)
    assert pipeline.model_service.get_model_metadata(deployed)["status"] == "production"

    retrainer = ModelRetrainingService()
    X2, y2 = make_classification(n_samples=300, n_features=12, n_informative=6, random_state=1)
    changes = retrainer.retrain_models_on_new_data(X2, y2)
    assert "Failed" not in capsys.readouterr().out
    assert [c["original_model"] for c in changes] == [deployed]
    assert retrainer.model_service.get_model_metadata(changes[0]["new_model"])["status"] == "saved"

    analysis = ModelAnalysisService().analyze_feature_importance("rf", [f"f{i}" for i in range(12)])
    assert analysis["feature_count"] == 12 and analysis["top_features"][0][0].startswith("f")
    timeline = ModelAnalysisService().model_performance_over_time("rf")
    assert list(timeline.columns) == ["model_id", "training_date", "validation_score", "train_score"]
    assert len(timeline) >= 1
