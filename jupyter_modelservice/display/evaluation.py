"""Result of evaluating one model version on a test set: :class:`EvaluationResult`."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from inspect import signature
from typing import TYPE_CHECKING, Any

from ..metric_names import METRIC_LABELS, metrics_for
from .base import RichResult, drawing_options
from .figures import PALETTE, plain_text
from .tables import html_kv_table, html_row, html_section, html_table, text_kv_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["EvaluationResult"]

_REPORT_COLUMNS = ("precision", "recall", "f1-score", "support")
_MAX_ANNOTATED_CLASSES = 20


class EvaluationResult(RichResult):
    """Metrics of a model version on a test set, with the matching charts.

    Classification shows the metrics, the per-class report and the confusion
    matrix, plus a ROC curve for a binary problem when scores are given.
    Regression shows the metrics, actual against predicted values and the
    residuals (when predictions are given). The charts are drawn by
    scikit-learn's :class:`~sklearn.metrics.ConfusionMatrixDisplay`,
    :class:`~sklearn.metrics.RocCurveDisplay` and
    :class:`~sklearn.metrics.PredictionErrorDisplay`.

    Build it with :meth:`from_predictions` (from labels and predictions, as
    scikit-learn's Displays), :meth:`from_estimator` or :meth:`from_evaluation`
    (from what ``ModelService.evaluate_model`` returned).

    Parameters
    ----------
    data : mapping
        What ``ModelService.evaluate_model`` returns.
    y_true : array-like, optional
        The test targets (needed for the ROC curve and the regression charts).
    y_pred : array-like, optional
        Regression predictions on the test set.
    y_score : array-like, optional
        Binary classification: score (probability) of the positive class ``pos_label``.
    pos_label : object, optional
        The positive class of ``y_score``.

    Attributes
    ----------
    data : dict
        The service's dictionary.

    Notes
    -----
    Keywords of :meth:`plot`: ``cmap`` (confusion matrix, default ``"Blues"``),
    ``curve_kwargs`` (the ROC curve's line) and ``scatter_kwargs`` /
    ``line_kwargs`` (the regression charts' points and reference line), passed
    to the scikit-learn Displays.

    Examples
    --------
    >>> from jupyter_modelservice.display import EvaluationResult
    >>> result = EvaluationResult.from_predictions([0, 1, 1, 0], [0, 1, 0, 0], model_id="demo")
    >>> float(result.frame().loc["demo", "accuracy"])
    0.75
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
    def from_predictions(
        cls,
        y_true: Any,
        y_pred: Any,
        *,
        y_score: Any = None,
        classes: Sequence[Any] | None = None,
        task_type: str | None = None,
        model_id: str | None = None,
        version: int | None = None,
        model_class: str | None = None,
    ) -> EvaluationResult:
        """Compute the metrics and charts from true labels and predictions.

        The metrics are the ones ``ModelService.evaluate_model`` computes for
        the same predictions.

        Parameters
        ----------
        y_true : array-like
            The true targets.
        y_pred : array-like
            The predicted targets.
        y_score : array-like, optional
            Classification: ``predict_proba`` output (one column per class of
            ``classes``), or for a binary problem the score of the positive
            class ``classes[1]``. Gives the ROC AUC and curve.
        classes : sequence, optional
            The classes, in the order of ``y_score``'s columns; by default the
            sorted labels found in ``y_true`` and ``y_pred``.
        task_type : {"classification", "regression"}, optional
            By default classification when ``y_true`` and ``y_pred`` both hold
            class labels, else regression.
        model_id, version, model_class : optional
            Who made the predictions (shown in titles; the reference is
            ``"model"`` without a ``model_id``).

        Returns
        -------
        EvaluationResult
        """
        import numpy as np

        from ..evaluation import evaluate_predictions
        from ..training import infer_task

        labels = all(infer_task(None, y) == "classification" for y in (y_true, y_pred))
        task = task_type or ("classification" if labels else "regression")
        proba = None
        if task == "classification":
            if classes is None:
                classes = np.unique(np.concatenate([np.unique(y_true), np.unique(y_pred)])).tolist()
            if y_score is not None:
                proba = np.asarray(y_score, dtype=float)
                if proba.ndim == 1:  # the positive class's score: columns as predict_proba gives them
                    if len(classes) != 2:
                        raise ValueError(f"A 1-d y_score is the score of the positive class of a binary problem; "
                                         f"there are {len(classes)} classes: pass predict_proba's "
                                         "(n_samples, n_classes) output instead.")
                    proba = np.column_stack([1 - proba, proba])
        data = evaluate_predictions(y_true, y_pred, task, y_score=proba, classes=[] if classes is None else list(classes))
        data = {"model_id": model_id, "version": version, "model_class": model_class, **data}
        return cls._with_chart_inputs(data, y_true, y_pred, proba, classes)

    @classmethod
    def from_estimator(
        cls, estimator: Any, X: Any, y: Any, *, task_type: str | None = None,
        model_id: str | None = None, version: int | None = None,
    ) -> EvaluationResult:
        """Predict with the fitted ``estimator`` on ``X`` and build the result (:meth:`from_predictions`).

        Parameters
        ----------
        estimator : fitted estimator
        X, y : array-like
            The test set.
        task_type : {"classification", "regression"}, optional
            By default inferred from the estimator, else from ``y``.
        model_id, version : optional
            The estimator's registry reference (shown in titles).

        Returns
        -------
        EvaluationResult
        """
        from ..evaluation import evaluate_estimator
        from ..training import infer_task

        data = evaluate_estimator(estimator, X, y, task_type or infer_task(estimator, y), return_predictions=True)
        data = {"model_id": model_id, "version": version, "model_class": type(estimator).__name__, **data}
        return cls.from_evaluation(data, y)

    @classmethod
    def from_evaluation(cls, data: Mapping[str, Any], y_true: Any = None) -> EvaluationResult:
        """Build the result from what ``ModelService.evaluate_model`` returned.

        Parameters
        ----------
        data : mapping
            The service's dictionary; with ``return_predictions=True`` its
            ``"predictions"`` (``y_pred``, ``y_score``, ``classes``) give the charts.
        y_true : array-like, optional
            The evaluated target (needed for the ROC curve and the regression charts).

        Returns
        -------
        EvaluationResult
        """
        predictions = data.get("predictions") or {}
        data = {k: v for k, v in data.items() if k != "predictions"}
        if y_true is None or not predictions:
            return cls(data)
        return cls._with_chart_inputs(data, y_true, predictions.get("y_pred"), predictions.get("y_score"),
                                      predictions.get("classes"))

    @classmethod
    def _with_chart_inputs(cls, data: dict[str, Any], y_true: Any, y_pred: Any, proba: Any,
                           classes: Sequence[Any] | None) -> EvaluationResult:
        """The result with what its charts need: the predictions (regression), the positive class's score (binary)."""
        if data.get("task_type") == "regression":
            return cls(data, y_true=y_true, y_pred=y_pred)
        classes = [] if classes is None else list(classes)
        if len(classes) == 2 and proba is not None:
            return cls(data, y_true=y_true, y_score=proba[:, 1], pos_label=classes[1])
        return cls(data)

    @property
    def task_type(self) -> str:
        return str(self.data.get("task_type") or "classification")

    @property
    def ref(self) -> str:
        """``"model_id:version"`` of the evaluated version (``"model"`` when unknown)."""
        model_id, version = self.data.get("model_id"), self.data.get("version")
        if model_id is None:
            return "model"
        return str(model_id) if version is None else f"{model_id}:{version}"

    @property
    def metrics(self) -> dict[str, float | None]:
        """The scalar metrics, by name."""
        return {m: self.data.get(m) for m in metrics_for(self.task_type) if m in self.data}

    def frame(self, what: str = "metrics") -> pd.DataFrame:
        """What the result shows, as a DataFrame.

        Parameters
        ----------
        what : {"metrics", "confusion_matrix", "report"}, default "metrics"
            ``"metrics"``: the scalar metrics, one row indexed by the model
            reference. ``"confusion_matrix"``: rows are the true classes,
            columns the predicted ones. ``"report"``: the per-class report
            (precision, recall, f1-score, support), a row per class and average.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ValueError
            For an unknown ``what``, or a table this evaluation does not have
            (a regression has no confusion matrix).
        """
        import pandas as pd

        if what == "metrics":
            return pd.DataFrame([self.metrics], index=pd.Index([self.ref], name="model"))
        if what not in ("confusion_matrix", "report"):
            raise ValueError(f"Unknown table {what!r}: choose 'metrics', 'confusion_matrix' or 'report'.")
        if self.task_type != "classification" or not self.data.get("confusion_matrix"):
            raise ValueError(f"This evaluation has no {what.replace('_', ' ')}: only a classification has one.")
        if what == "report":
            rows = self._report_rows()
            return pd.DataFrame([r[1:] for r in rows], columns=list(_REPORT_COLUMNS),
                                index=pd.Index([r[0] for r in rows], name="class"))
        labels = self._labels()
        return pd.DataFrame(self.data["confusion_matrix"], index=pd.Index(labels, name="true"),
                            columns=pd.Index(labels, name="predicted"))

    def _labels(self) -> list[Any]:
        labels = self.data.get("labels")
        return list(labels) if labels is not None else list(range(len(self.data.get("confusion_matrix") or [])))

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
        labels = [str(v) for v in self._labels()]
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
    def _with_roc(self) -> bool:
        return self.y_true is not None and self.y_score is not None

    def _panels(self) -> int:
        if self.task_type == "regression":
            return 2 if self.y_true is not None and self.y_pred is not None else 0
        if not self.data.get("confusion_matrix"):
            return 0
        return 2 if self._with_roc() else 1

    def _figsize(self) -> tuple[float, float]:
        if self.task_type == "regression":
            return (8.5, 3.4)
        return (8.5 if self._with_roc() else 4.4, 3.6)

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        options = drawing_options(kwargs, cmap="Blues", curve_kwargs=None, scatter_kwargs=None, line_kwargs=None)
        if self.task_type == "regression":
            self._draw_prediction_error(axes, options["scatter_kwargs"], options["line_kwargs"])
            return
        self._draw_confusion_matrix(axes[0], options["cmap"])
        if self._with_roc():
            self._draw_roc_curve(axes[1], options["curve_kwargs"])

    def _draw_confusion_matrix(self, ax: Axes, cmap: Any) -> None:
        import numpy as np
        from sklearn.metrics import ConfusionMatrixDisplay

        matrix = np.asarray(self.data["confusion_matrix"])
        labels = [plain_text(v) for v in self._labels()]
        display = ConfusionMatrixDisplay(matrix, display_labels=labels).plot(
            ax=ax, cmap=cmap, colorbar=False, include_values=len(labels) <= _MAX_ANNOTATED_CLASSES,
            values_format="d" if matrix.dtype.kind in "iu" else None,
            xticks_rotation=45 if len(labels) > 4 else "horizontal")
        ax.figure.colorbar(display.im_, ax=ax, shrink=0.8)
        ax.set_title("Confusion matrix", fontsize="medium")

    def _draw_roc_curve(self, ax: Axes, curve_kwargs: Any) -> None:
        from sklearn.metrics import RocCurveDisplay, auc, roc_curve

        fpr, tpr, _ = roc_curve(self.y_true, self.y_score, pos_label=self.pos_label)
        roc_auc = auc(fpr, tpr)
        line = {"color": PALETTE[0], "label": f"AUC = {roc_auc:.3f}", **(curve_kwargs or {})}  # 0.996, not 1.00
        # scikit-learn 1.7 takes the line's options as curve_kwargs, earlier versions as keywords
        style = {"curve_kwargs": line} if "curve_kwargs" in signature(RocCurveDisplay.plot).parameters else line
        RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=roc_auc, pos_label=plain_text(self.pos_label)).plot(
            ax=ax, plot_chance_level=True, chance_level_kw={"color": "grey", "linewidth": 1}, **style)
        ax.set_title("ROC curve", fontsize="medium")

    def _draw_prediction_error(self, axes: list[Axes], scatter_kwargs: Any, line_kwargs: Any) -> None:
        import numpy as np
        from sklearn.metrics import PredictionErrorDisplay

        display = PredictionErrorDisplay(y_true=np.asarray(self.y_true, dtype=float),
                                         y_pred=np.asarray(self.y_pred, dtype=float))
        line = {"color": "grey", "linewidth": 1, **(line_kwargs or {})}
        for ax, kind, color, title in ((axes[0], "actual_vs_predicted", PALETTE[0], "Actual vs predicted"),
                                       (axes[1], "residual_vs_predicted", PALETTE[1], "Residuals")):
            display.plot(ax=ax, kind=kind, line_kwargs=line,
                         scatter_kwargs={"s": 12, "alpha": 0.6, "color": color, **(scatter_kwargs or {})})
            ax.set_title(title, fontsize="medium")
