"""Results of training and cross-validation: :class:`TrainResult` and :class:`CVResult`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import RichResult
from .figures import PALETTE, plain_text
from .tables import (
    format_timestamp,
    format_value,
    html_kv_table,
    html_row,
    html_section,
    html_table,
    text_kv_table,
    text_table,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["CVResult", "TrainResult", "format_seconds"]


#: The fields of a train result that ``TrainResult.frame()`` holds, in order.
_TRAIN_COLUMNS = ("model_id", "version", "model_class", "task_type", "scoring", "train_score", "validation_score",
                  "training_samples", "validation_samples", "feature_count", "fit_seconds", "training_date",
                  "status", "file_format")


def format_seconds(seconds: float | None) -> str:
    """``0.1234`` → ``"0.12 s"``, ``0.0042`` → ``"4.2 ms"``; None → ``"—"``."""
    if seconds is None:
        return format_value(None)
    if seconds < 0.1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CVResult(RichResult):
    """Scores of a k-fold cross-validation, per fold and summarised.

    Parameters
    ----------
    data : mapping
        What ``ModelService.cross_validate_model`` returns: ``model_class``,
        ``mean_score``, ``std_score``, ``cv_scores``, ``scoring``, ``cv_folds``,
        ``fit_time``, ``score_time`` and, for several scorings, ``scores``
        (``{name: {"mean", "std", "cv_scores"}}``).

    Attributes
    ----------
    data : dict
        The service's dictionary, unchanged.
    scores : dict of str to list of float
        Fold scores per scoring name.

    Notes
    -----
    Keywords of :meth:`plot` go to :meth:`matplotlib.axes.Axes.bar` (the fold scores).
    """

    _kind = "cv"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        if self.data.get("scores"):
            self.scores = {name: list(s["cv_scores"]) for name, s in self.data["scores"].items()}
            self._summaries = {
                name: (s["mean"], s["std"]) for name, s in self.data["scores"].items()
            }
        else:
            name = str(self.data.get("scoring") or "score")
            self.scores = {name: list(self.data["cv_scores"])}
            self._summaries = {name: (self.data["mean_score"], self.data["std_score"])}

    @property
    def n_folds(self) -> int:
        """Number of folds that were scored."""
        return len(next(iter(self.scores.values())))

    def frame(self) -> pd.DataFrame:
        """One row per fold: a column per scoring, then ``fit_time`` and ``score_time``."""
        import pandas as pd

        columns: dict[str, list[Any]] = dict(self.scores)
        for key in ("fit_time", "score_time"):
            if self.data.get(key):
                columns[key] = list(self.data[key])
        frame = pd.DataFrame(columns)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="fold")
        return frame

    def _title(self) -> str:
        return f"{self.n_folds}-fold cross-validation of {self.data.get('model_class', 'model')}"

    def summary(self) -> str:
        return ", ".join(
            f"{name} {format_value(mean)} ± {format_value(std)}"
            for name, (mean, std) in self._summaries.items()
        )

    def _fold_rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = ["fold", *self.scores]
        times = [k for k in ("fit_time", "score_time") if self.data.get(k)]
        headers += [k.replace("_", " ") for k in times]
        rows = []
        for i in range(self.n_folds):
            row: list[Any] = [i + 1] + [s[i] for s in self.scores.values()]
            row += [format_seconds(self.data[k][i]) for k in times]
            rows.append(row)
        return headers, rows

    def to_text(self) -> str:
        headers, rows = self._fold_rows()
        return "\n".join([self._title(), self.summary(), "", text_table(headers, rows)])

    def _html_body(self, chart: str) -> str:
        headers, rows = self._fold_rows()
        means = "".join(
            f'<div><span class="jms-big">{html.escape(format_value(mean))}</span>'
            f' <span class="jms-muted">± {html.escape(format_value(std))} {html.escape(name)}</span></div>'
            for name, (mean, std) in self._summaries.items()
        )
        return (
            f'<div class="jms-title">{html.escape(self._title())}</div>'
            + html_row(html_section("", means + html_table(headers, rows)), chart)
        )

    def _panels(self) -> int:
        return 1

    def _figsize(self) -> tuple[float, float]:
        return (5.5, 3.0)

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        ax = axes[0]
        n_series = len(self.scores)
        width = 0.8 / n_series
        folds = range(1, self.n_folds + 1)
        for k, (name, values) in enumerate(self.scores.items()):
            color = PALETTE[k % len(PALETTE)]
            offset = (k - (n_series - 1) / 2) * width
            ax.bar([f + offset for f in folds], values, **{"width": width, "color": color, "label": plain_text(name),
                                                          **kwargs})
            mean = self._summaries[name][0]
            ax.axhline(mean, color=color, linestyle="--", linewidth=1)
        ax.set_xticks(list(folds))
        ax.set_xlabel("fold")
        ax.set_ylabel("score")
        lows = [min(v) for v in self.scores.values()]
        highs = [max(v) for v in self.scores.values()]
        if min(lows) >= 0:  # zoom in on the differences between folds
            span = max(highs) - min(lows)
            ax.set_ylim(max(0.0, min(lows) - max(span, 0.02)), max(highs) + max(span, 0.02) * 0.5)
        if n_series > 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
        ax.set_title(plain_text(f"{self._title()} (dashed: mean)"), fontsize="medium")

class TrainResult(RichResult):
    """A trained (and usually saved) model version, with its scores.

    Parameters
    ----------
    data : mapping
        What ``ModelService.train_model`` returns, possibly updated with the
        registry row after saving (``status``, ``file_format``).
    cv : CVResult, optional
        A cross-validation run alongside the training.
    defaults : mapping, optional
        The estimator's default parameters (JSON values, as in ``model_params``).
        When given, the parameters set to something else are listed first and
        the rest are folded away, as scikit-learn's own HTML repr does.

    Attributes
    ----------
    data : dict
        The service's dictionary.
    cv : CVResult or None
    defaults : dict or None
    """

    _kind = "train"

    def __init__(self, data: Mapping[str, Any], cv: CVResult | None = None,
                 defaults: Mapping[str, Any] | None = None) -> None:
        self.data = dict(data)
        self.cv = cv
        self.defaults = None if defaults is None else dict(defaults)

    @property
    def ref(self) -> str:
        """``"model_id:version"`` of the trained version."""
        return f"{self.data['model_id']}:{self.data['version']}"

    def summary(self) -> str:
        d = self.data
        score = d.get("validation_score")
        if score is None:
            score = d.get("train_score")
        return f"{self.ref} {d.get('model_class', '')} {d.get('scoring', 'score')}={format_value(score)}"

    def _status(self) -> str:
        status = str(self.data.get("status") or "trained")
        fmt = self.data.get("file_format")
        return f"{status} ({fmt})" if fmt else status

    def _sections(self) -> dict[str, dict[str, Any]]:
        d = self.data
        return {
            f"Scores ({d.get('scoring', 'score')})": {
                "train": d.get("train_score"),
                "validation": d.get("validation_score"),
            },
            "Data": {
                "training samples": d.get("training_samples"),
                "validation samples": d.get("validation_samples"),
                "features": d.get("feature_count"),
            },
            "Run": {
                "fit time": format_seconds(d.get("fit_seconds")),
                "trained": format_timestamp(d.get("training_date")),
                "status": self._status(),
            },
        }

    def _params(self) -> dict[str, str]:
        params = self.data.get("model_params") or {}
        return {str(k): _short_repr(v) for k, v in sorted(params.items())}

    def changed_params(self) -> dict[str, str] | None:
        """The parameters not at their default value (shown as ``repr``), or None when the
        defaults are unknown."""
        if self.defaults is None:
            return None
        params = self.data.get("model_params") or {}
        return {str(k): _short_repr(v) for k, v in sorted(params.items())
                if k not in self.defaults or self.defaults[k] != v}

    def to_text(self) -> str:
        d = self.data
        lines = [f"Trained {self.ref}: {d.get('model_class')} ({d.get('task_type')})"]
        items: dict[str, Any] = {}
        for name, section in self._sections().items():
            if name.startswith("Scores"):
                items["scoring"] = d.get("scoring")
                items.update({f"{k} score": v for k, v in section.items()})
            else:
                items.update(section)
        lines.append(text_kv_table(items))
        params, changed = self._params(), self.changed_params()
        if changed is not None and params:
            rest = len(params) - len(changed)
            shown = ", ".join(f"{k}={v}" for k, v in changed.items()) or "all at their defaults"
            lines.append(f"params: {shown}" + (f" (+{rest} at their defaults)" if changed and rest else ""))
        elif params:
            lines.append("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
        if self.cv is not None:
            lines += ["", self.cv.to_text()]
        return "\n".join(lines)

    def _html_body(self, chart: str) -> str:
        d = self.data
        sections = [html_section(name, html_kv_table(items)) for name, items in self._sections().items()]
        params, changed = self._params(), self.changed_params()
        details = ""
        if changed is not None:  # as scikit-learn's repr: what was set first, the defaults folded
            body = html_kv_table(changed) if changed else '<div class="jms-muted">all at their defaults</div>'
            sections.append(html_section(f"Parameters set ({len(changed)})", body))
            rest = {k: v for k, v in params.items() if k not in changed}
            if rest:
                details = (f"<details><summary>{len(rest)} parameters at their defaults</summary>"
                           f"{html_kv_table(rest)}</details>")
        elif params:
            details = (
                f"<details><summary>Parameters ({len(params)})</summary>"
                f"{html_kv_table(params)}</details>"
            )
        cv = ""
        if self.cv is not None:
            cv = html_section("", self.cv._html_body(chart))
        return (
            f'<div class="jms-title">Trained <code>{html.escape(str(d.get("model_id")))}</code>'
            f" · version {html.escape(str(d.get('version')))}</div>"
            f'<div class="jms-subtitle">{html.escape(str(d.get("model_class")))} · '
            f"{html.escape(str(d.get('task_type')))}</div>"
            f"{html_row(*sections)}{details}{cv}"
        )

    def frame(self) -> pd.DataFrame:
        """The version's scores, data and run, one row indexed by ``"model_id:version"``
        (the cross-validation, if any, is ``cv.frame()``)."""
        import pandas as pd

        row = {key: self.data.get(key) for key in _TRAIN_COLUMNS}
        return pd.DataFrame([row], index=pd.Index([self.ref], name="model"))

    # The chart is the cross-validation's, when there is one.
    def _panels(self) -> int:
        return self.cv._panels() if self.cv is not None else 0

    def _figsize(self) -> tuple[float, float]:
        return self.cv._figsize() if self.cv is not None else super()._figsize()

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        if self.cv is not None:
            self.cv._draw(axes, **kwargs)
