"""`ComparisonPanel`: pick registered models and a metric; see the comparison table and chart.

A composite of standard ipywidgets. Each model version is evaluated once per
test set and the results are cached, so changing the metric or adding a model
to the selection only evaluates what is new.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..columns import pick
from ..exceptions import InvalidInputError
from ..ids import validate_search
from ..metric_names import METRIC_LABELS
from .browser import COUNT_CAP
from .panel_base import (
    PANEL_STYLE,
    ActionRunner,
    TextFallbackPanel,
    compare_with_progress,
    resolve_service,
    show_rich,
    user_namespace,
)
from .resolve import lookup

if TYPE_CHECKING:
    from ..display import ComparisonResult
    from ..service import ModelService

__all__ = ["ComparisonPanel"]


_OPTION = ("ref", "model_class", "status", "validation_score", "training_date")


def _option_label(row: Mapping[str, Any]) -> str:
    """``rf:2 · RandomForestClassifier · saved · validation 0.9561 · 2026-05-01 12:34``"""
    ref, model_class, status, score, date = (c.text(row) for c in pick(_OPTION))
    score = f"validation {score}" if row.get("validation_score") is not None else "no validation score"
    return " · ".join((ref, model_class, status, score, date))


class ComparisonPanel(TextFallbackPanel):
    """Compare model versions on one test set: a multi-select of versions and a metric menu.

    Parameters
    ----------
    service : ModelService, optional
        The registry. When None: the service of the magics in a notebook that
        ran ``%load_ext jupyter_modelservice`` (the registry ``%ms_config``
        points at), else a ``ModelService()`` on ``./models``.
    X_test, y_test : array-like, optional
        The test data (``ComparisonPanel(X_test, y_test)`` works too). When not
        given, the panel shows two text boxes for the names of notebook
        variables (``X_test`` and ``y_test`` by default).
    namespace : dict, optional
        Where those names are looked up: IPython's ``user_ns`` when running in
        IPython, else an empty dict.
    limit : int, default 200
        At most this many versions are listed (newest first); the search box
        narrows the list.

    Attributes
    ----------
    result_ : ComparisonResult or None
        The comparison on screen.

    Examples
    --------
    >>> %load_ext jupyter_modelservice                       # doctest: +SKIP
    >>> ComparisonPanel(X_test=X_test, y_test=y_test)        # doctest: +SKIP
    """

    title = "Comparison panel"

    def __init__(self, service: ModelService | None = None, X_test: Any = None, y_test: Any = None,
                 *, namespace: dict[str, Any] | None = None, limit: int = 200) -> None:
        if service is not None and y_test is None and not hasattr(service, "registry"):
            service, X_test, y_test = None, service, X_test  # ComparisonPanel(X_test, y_test)
        if (X_test is None) != (y_test is None):
            raise InvalidInputError("Pass both X_test and y_test, or neither (to name notebook variables).")
        self.service = resolve_service(service)
        if namespace is None:
            namespace = user_namespace()
        self.namespace: dict[str, Any] = {} if namespace is None else namespace
        self.X_test = X_test
        self.y_test = y_test
        self.limit = limit
        self.result_: ComparisonResult | None = None
        self._cache: dict[str, dict[str, Any]] = {}
        self._cached_data: tuple[Any, Any] | None = None
        self._updating = False

        w = widgets

        def toolbar() -> widgets.Layout:  # controls keep their size and wrap when the panel is narrow
            return w.Layout(flex_flow="row wrap", align_items="center")

        self.search = w.Text(description="Search", placeholder="id or class, then Enter",
                             continuous_update=False, layout=w.Layout(width="280px", flex="0 0 auto"))
        self.reload_button = w.Button(description="Reload list", icon="refresh",
                                      layout=w.Layout(width="auto", flex="0 0 auto"))
        self.models = w.SelectMultiple(options=[], rows=8, description="Models",
                                       layout=w.Layout(width="auto"))  # the panel's width, margins included
        self.listed = w.Label()
        self.metric = w.Dropdown(options=[], description="Metric", layout=w.Layout(width="260px", flex="0 0 auto"))
        self.x_name = w.Text(value="X_test", description="X", continuous_update=False,
                             layout=w.Layout(width="180px", flex="0 0 auto"))
        self.y_name = w.Text(value="y_test", description="y", continuous_update=False,
                             layout=w.Layout(width="180px", flex="0 0 auto"))
        self.message = w.Output()  # one status line: progress, result or error
        self.output = w.Output()
        data_row = [] if X_test is not None else [self.x_name, self.y_name]
        self.actions = ActionRunner(self.message, [self.reload_button], on_error=self._clear_result)
        super().__init__(children=[
            w.HTML(PANEL_STYLE),
            w.HBox([self.search, self.reload_button, self.listed], layout=toolbar()),
            self.models,
            w.HBox([self.metric, *data_row], layout=toolbar()),
            self.message,
            self.output,
        ])
        self.add_class("jms-comparison-panel")
        self.add_class("jms-panel")

        self.search.observe(self._on_search, names="value")
        self.reload_button.on_click(lambda _: self._on_search(None))
        self.models.observe(self._on_change, names="value")
        self.metric.observe(self._on_change, names="value")
        for name_box in (self.x_name, self.y_name):
            name_box.observe(self._on_change, names="value")
        with self.actions.run(clear=False):
            self.list_models()
        self._hint()

    # -- display -----------------------------------------------------------
    def to_text(self) -> str:
        """The comparison on screen as plain text (what a notebook without widget state shows)."""
        if self.result_ is None:
            return f"Comparison panel: {self.listed.value}, none chosen"
        return f"Comparison panel: {self.listed.value}\n{self.result_.to_text()}"

    def snapshot_html(self) -> str:
        """The comparison on screen as static HTML (what a reopened notebook shows)."""
        if self.result_ is not None:
            return self.result_.to_html()
        return (f'<div class="jms"><div class="jms-muted">Comparison panel: {html.escape(self.listed.value)}, '
                "none chosen.</div></div>")

    # -- state -------------------------------------------------------------
    @property
    def selected(self) -> tuple[str, ...]:
        """``"model_id:version"`` of the chosen versions."""
        return tuple(self.models.value)

    def list_models(self) -> None:
        """Fill the version list from the registry (keeping the chosen versions)."""
        search = validate_search(self.search.value.strip())
        registry = self.service.registry
        rows = registry.list(search=search, limit=self.limit + 1)  # one more: are there others?
        more = len(rows) > self.limit
        rows = rows[:self.limit]
        # count the others only when there are some, and only up to a cap (not a search's every match)
        cap = max(COUNT_CAP, self.limit)
        total = registry.count(search=search, limit=cap + 1) if more else len(rows)
        refs = [f"{r['model_id']}:{r['version']}" for r in rows]
        keep = tuple(ref for ref in self.selected if ref in refs)
        self._updating = True
        try:
            self.models.options = [(_option_label(r), ref) for r, ref in zip(rows, refs)]
            self.models.value = keep
        finally:
            self._updating = False
        counted = f"{cap:,}+" if total > cap else f"{total:,}"
        self.listed.value = f"{len(rows)} of {counted} versions listed" if more else f"{total:,} versions"
        self.refresh_snapshot()

    def _data(self) -> tuple[Any, Any]:
        if self.X_test is not None:
            return self.X_test, self.y_test
        X = lookup(self.x_name.value.strip(), self.namespace, "X")
        y = lookup(self.y_name.value.strip(), self.namespace, "y")
        return X, y

    def _hint(self) -> None:
        if not self.selected:
            self.message.outputs = ()
            self.actions.say("Select one or more model versions (Ctrl/Shift-click for several).")

    # -- handlers ------------------------------------------------------------
    def _on_search(self, _change: Any) -> None:
        with self.actions.run(clear=False):
            self.list_models()

    def _on_change(self, _change: Any) -> None:
        if self._updating:
            return
        if not self.selected:
            self._clear_result()
            self._hint()
            return
        with self.actions.run():
            self.update()

    def _clear_result(self) -> None:
        """No table or chart on screen (nothing chosen, or an error that invalidates them)."""
        self.output.outputs = ()
        self.result_ = None
        self.refresh_snapshot()

    def update(self) -> None:
        """Evaluate what is not cached yet and show the table and chart of the chosen versions."""
        from ..display import ComparisonResult
        from ..display.comparison import metric_columns
        from ..evaluation import comparison_frame

        refs = self.selected
        if not refs:
            raise InvalidInputError("Select one or more model versions to compare.")
        X, y = self._data()
        if self._cached_data is None or self._cached_data[0] is not X or self._cached_data[1] is not y:
            self._cache.clear()
            self._cached_data = (X, y)
        missing = [ref for ref in refs if ref not in self._cache]
        if missing:  # the status line counts every version compared, the cached ones done already
            frame = compare_with_progress(self.service, missing, X, y,
                                          self.actions.progress(len(refs), "Evaluating", "models"),
                                          done=len(refs) - len(missing))
            for row in frame.to_dict(orient="records"):
                self._cache[f"{row['model_id']}:{row['version']}"] = row
        frame = comparison_frame([self._cache[ref] for ref in refs])
        metrics = metric_columns(frame)
        options = [(METRIC_LABELS.get(m, m), m) for m in metrics]  # named as in the table
        self._updating = True
        try:
            if list(self.metric.options) != options:
                current = self.metric.value
                self.metric.options = options
                self.metric.value = current if current in metrics else (metrics[0] if metrics else None)
        finally:
            self._updating = False
        result = ComparisonResult(frame, sort_by=self.metric.value)
        self.output.outputs = ()
        show_rich(self.output, result)
        self.result_ = result
        self.refresh_snapshot()
        best = result.frame().iloc[0][result.sort_by] if result.sort_by else None
        score = f" ({best:.4f})" if isinstance(best, float) else ""
        label = METRIC_LABELS.get(result.sort_by or "", result.sort_by)
        self.actions.say(f"{len(refs)} version(s): best {result.best} by {label}{score}.")
