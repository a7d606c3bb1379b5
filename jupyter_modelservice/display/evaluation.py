"""Result of evaluating one model version on a test set: :class:`EvaluationResult`."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..metric_names import METRIC_LABELS, metrics_for
from .base import RichResult
from .figures import PALETTE, new_figure, plain_text
from .tables import html_kv_table, html_row, html_section, html_table, text_kv_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["EvaluationResult"]

_REPORT_COLUMNS = ("precision", "recall", "f1-score", "support")
_MAX_ANNOTATED_CLASSES = 20


class EvaluationResult(RichResult):
    """Metrics of a model version on a test set, with the matching charts.

    Classification shows the metrics, the per-class report and the confusion
    matrix, plus a ROC curve for a binary problem when scores are given.
    Regression shows the metrics, predicted against actual values and the
    residuals (when predictions are given).

    Parameters
    ----------
    data : mapping
        What ``ModelService.evaluate_model`` returns.
    y_true : array-like, optional
        The test targets (needed for the ROC curve and the regression charts).
    y_pred : array-like, optional
        Regression predictions on the test set.
    y_score : array-like, optional
        Binary classification: probability of the positive class ``pos_label``.
    pos_label : object, optional
        The positive class of ``y_score``.

    Attributes
    ----------
    data : dict
        The service's dictionary.
    """

    _kind = "evaluation"

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        y_true: Sequence[Any] | None = None,
        y_pred: Sequence[Any] | None = None,
        y_score: Sequence[float] | None = None,
        pos_label: Any = None,
    ) -> None:
        self.data = dict(data)
        self.y_true = y_true
        self.y_pred = y_pred
        self.y_score = y_score
        self.pos_label = pos_label

    @classmethod
    def from_estimator(
        cls, data: Mapping[str, Any], estimator: Any, X_test: Any, y_test: Any
    ) -> EvaluationResult:
        """Build the result, computing what the charts need from the fitted ``estimator``.

        Parameters
        ----------
        data : mapping
            What ``ModelService.evaluate_model`` returned for ``estimator``.
        estimator : fitted estimator
        X_test, y_test : array-like
            The test set that was evaluated.

        Returns
        -------
        EvaluationResult
        """
        proba = None
        if data.get("task_type") != "regression" and hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X_test)
        predictions = {"y_pred": estimator.predict(X_test), "y_score": proba,
                       "classes": list(getattr(estimator, "classes_", []))}
        return cls.from_predictions(data, y_test, predictions)

    @classmethod
    def from_predictions(cls, data: Mapping[str, Any], y_test: Any,
                         predictions: Mapping[str, Any]) -> EvaluationResult:
        """Build the result from ``evaluate_model(..., return_predictions=True)``.

        Parameters
        ----------
        data : mapping
            The metrics ``ModelService.evaluate_model`` returned.
        y_test : array-like
            The evaluated target.
        predictions : mapping
            ``y_pred``, ``y_score`` (``predict_proba`` output or None) and ``classes``.

        Returns
        -------
        EvaluationResult
        """
        data = {k: v for k, v in data.items() if k != "predictions"}
        if data.get("task_type") == "regression":
            return cls(data, y_true=y_test, y_pred=predictions["y_pred"])
        classes, proba = list(predictions.get("classes") or []), predictions.get("y_score")
        if len(classes) == 2 and proba is not None:
            return cls(data, y_true=y_test, y_score=proba[:, 1], pos_label=classes[1])
        return cls(data)

    @property
    def task_type(self) -> str:
        return str(self.data.get("task_type") or "classification")

    @property
    def ref(self) -> str:
        """``"model_id:version"`` of the evaluated version."""
        return f"{self.data.get('model_id')}:{self.data.get('version')}"

    @property
    def metrics(self) -> dict[str, float | None]:
        """The scalar metrics, by name."""
        return {m: self.data.get(m) for m in metrics_for(self.task_type) if m in self.data}

    @property
    def frame(self) -> pd.DataFrame:
        """The scalar metrics as a one-row DataFrame indexed by the model reference."""
        import pandas as pd

        return pd.DataFrame([self.metrics], index=pd.Index([self.ref], name="model"))

    @property
    def confusion_frame(self) -> pd.DataFrame | None:
        """The confusion matrix (rows: true class, columns: predicted), or None."""
        import pandas as pd

        matrix, labels = self.data.get("confusion_matrix"), self.data.get("labels")
        if matrix is None:
            return None
        labels = list(labels) if labels is not None else list(range(len(matrix)))
        return pd.DataFrame(
            matrix,
            index=pd.Index(labels, name="true"),
            columns=pd.Index(labels, name="predicted"),
        )

    def _title(self) -> str:
        return f"Evaluation of {self.ref} on {self.data.get('n_samples', '?')} samples ({self.task_type})"

    def summary(self) -> str:
        return self._title()

    def _labelled_metrics(self) -> dict[str, Any]:
        return {METRIC_LABELS.get(k, k): v for k, v in self.metrics.items()}

    def _report_rows(self) -> list[list[Any]]:
        report = self.data.get("classification_report") or {}
        rows = []
        for name, values in report.items():
            if isinstance(values, Mapping):
                row: list[Any] = [str(name)] + [values.get(c) for c in _REPORT_COLUMNS]
                if isinstance(row[-1], float) and row[-1].is_integer():
                    row[-1] = int(row[-1])  # support is a count
                rows.append(row)
        return rows

    def _confusion_rows(self) -> tuple[list[str], list[list[Any]]]:
        matrix = self.data.get("confusion_matrix") or []
        labels = self.data.get("labels")
        labels = [str(v) for v in (labels if labels is not None else range(len(matrix)))]
        headers = ["true \\ predicted", *labels]
        return headers, [[label, *row] for label, row in zip(labels, matrix)]

    def to_text(self) -> str:
        parts = [self._title(), text_kv_table(self._labelled_metrics())]
        if self.task_type == "classification":
            rows = self._report_rows()
            if rows:
                parts += ["", text_table(["class", *_REPORT_COLUMNS], rows)]
            if self.data.get("confusion_matrix"):
                parts += ["", "Confusion matrix", text_table(*self._confusion_rows())]
        return "\n".join(parts)

    def _html_body(self, chart: str) -> str:
        sections = [html_section("Metrics", html_kv_table(self._labelled_metrics()))]
        if self.task_type == "classification" and self.data.get("confusion_matrix"):
            sections.append(html_section("Confusion matrix", html_table(*self._confusion_rows())))
        report = ""
        rows = self._report_rows()
        if rows:
            report = (
                "<details><summary>Per-class report</summary>"
                f"{html_table(['class', *_REPORT_COLUMNS], rows)}</details>"
            )
        return (
            f'<div class="jms-title">{html.escape(self._title())}</div>'
            f"{html_row(*sections)}{report}{chart}"
        )

    # -- charts ------------------------------------------------------------
    def _draw(self) -> Figure | None:
        if self.task_type == "regression":
            if self.y_true is None or self.y_pred is None:
                return None
            fig = new_figure(8.5, 3.4)
            left, right = fig.subplots(1, 2)
            self._draw_predicted_vs_actual(left)
            self._draw_residuals(right)
            return fig
        if not self.data.get("confusion_matrix"):
            return None
        with_roc = self.y_true is not None and self.y_score is not None
        fig = new_figure(8.5 if with_roc else 4.4, 3.6)
        axes = fig.subplots(1, 2) if with_roc else [fig.add_subplot()]
        self._draw_confusion_matrix(axes[0])
        if with_roc:
            self._draw_roc(axes[1])
        return fig

    def _draw_confusion_matrix(self, ax: Axes) -> None:
        import numpy as np

        matrix = np.asarray(self.data["confusion_matrix"])
        labels = self.data.get("labels")
        labels = [plain_text(v) for v in (labels if labels is not None else range(len(matrix)))]
        image = ax.imshow(matrix, cmap="Blues")
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
        ticks = range(len(labels))
        ax.set_xticks(list(ticks), labels, rotation=45 if len(labels) > 4 else 0)
        ax.set_yticks(list(ticks), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("Confusion matrix", fontsize="medium")
        if len(labels) <= _MAX_ANNOTATED_CLASSES:
            threshold = matrix.max() / 2 if matrix.size else 0
            for (i, j), count in np.ndenumerate(matrix):
                ax.text(j, i, str(count), ha="center", va="center",
                        color="white" if count > threshold else "black")

    def _draw_roc(self, ax: Axes) -> None:
        from sklearn.metrics import auc, roc_curve

        fpr, tpr, _ = roc_curve(self.y_true, self.y_score, pos_label=self.pos_label)
        ax.plot(fpr, tpr, color=PALETTE[0], label=f"AUC = {auc(fpr, tpr):.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"ROC curve (positive class: {plain_text(self.pos_label)})", fontsize="medium")
        ax.legend(loc="lower right")

    def _draw_predicted_vs_actual(self, ax: Axes) -> None:
        import numpy as np

        y_true, y_pred = np.asarray(self.y_true, dtype=float), np.asarray(self.y_pred, dtype=float)
        ax.scatter(y_true, y_pred, s=12, alpha=0.6, color=PALETTE[0])
        low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
        ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
        ax.set_title("Predicted vs actual", fontsize="medium")

    def _draw_residuals(self, ax: Axes) -> None:
        import numpy as np

        y_true, y_pred = np.asarray(self.y_true, dtype=float), np.asarray(self.y_pred, dtype=float)
        ax.scatter(y_pred, y_true - y_pred, s=12, alpha=0.6, color=PALETTE[1])
        ax.axhline(0, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual (actual − predicted)")
        ax.set_title("Residuals", fontsize="medium")
