"""`RegistryBrowser`: browse, inspect and manage the model registry in an ipywidgets panel.

A composite of standard ipywidgets (no custom JavaScript). The table is one
page of registry rows fetched with ``Registry.list(limit=, offset=)`` and
counted with ``Registry.count``, so it stays responsive with many thousands of
versions. Results and errors are written into ``Output`` widgets (see
:mod:`.panel_base`), which both a real JupyterLab and a test can read.
"""

from __future__ import annotations

import html
import keyword
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..exceptions import InvalidInputError, ModelServiceError, NoImportanceWarning
from ..ids import validate_model_id, validate_search
from ..registry.where import looks_like_query
from .panel_base import (
    ActionRunner,
    TextFallbackPanel,
    compare_with_progress,
    png_bundle,
    resolve_service,
    show_bundle,
    show_rich,
    user_namespace,
)
from .registry_rows import details_html, table_lines
from .resolve import lookup

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["RegistryBrowser"]

#: (label, value) of the status filter; "all" means no filter.
STATUS_FILTERS = (("all statuses", "all"), ("trained", "trained"), ("saved", "saved"),
                  ("production", "production"), ("archived", "archived"))

#: (label, ``order_by``) of the sort menu.
SORTS = (
    ("newest first", "-training_date"),
    ("oldest first", "training_date"),
    ("validation score, high first", "-validation_score"),
    ("validation score, low first", "validation_score"),
    ("train score, high first", "-train_score"),
    ("train score, low first", "train_score"),
    ("model id", "model_id"),
    ("class", "model_class"),
    ("status", "status"),
)

#: Statuses a user can set from the panel (``trained`` only comes from training).
SETTABLE_STATUSES = ("saved", "production", "archived")

_STYLE = """<style>
.jms-browser select, .jms-browser .jms-browser-header {
  font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 12px);
}
.jms-browser .jms-browser-header { white-space: pre; padding: 0 0 0 6px; font-weight: 600; }
.jms-browser .jms-details td.jms-left { white-space: normal; overflow-wrap: anywhere; }
</style>"""


# ----------------------------------------------------------------------------- the panel


class RegistryBrowser(TextFallbackPanel):
    """Browse and manage the registry: search, filter, sort, page, inspect and act.

    Parameters
    ----------
    service : ModelService, optional
        The registry to browse; a ``ModelService()`` on ``./models`` when None.
    namespace : dict, optional
        Where *Load* puts models and where *Compare* finds ``X`` / ``y``;
        IPython's ``user_ns`` when running in IPython, else a new dict.
    page_size : int, default 15
        Rows per page (the table queries one page at a time).
    search : str, optional
        Initial search text (matches model ids and class names).
    model_id : str, optional
        Show only the versions of this model id (the search then narrows within them).
    status : {"trained", "saved", "production", "archived"}, optional
        Initial status filter; None shows every status.
    order_by : str, default "-training_date"
        Initial sort: one of the ``order_by`` values of :data:`SORTS`.

    Attributes
    ----------
    rows_ : list of dict
        The registry rows of the page on screen.
    total_ : int
        How many versions match the filters.
    page : int
        The page on screen, from 0.

    Examples
    --------
    >>> from jupyter_modelservice.widgets import RegistryBrowser   # doctest: +SKIP
    >>> RegistryBrowser(service)                                   # doctest: +SKIP
    """

    def __init__(self, service: ModelService | None = None, *,
                 namespace: dict[str, Any] | None = None, page_size: int = 15,
                 search: str = "", status: str | None = None,
                 order_by: str = "-training_date", model_id: str | None = None) -> None:
        if page_size < 1:
            raise InvalidInputError(f"page_size must be at least 1, got {page_size}.")
        statuses = [value for _, value in STATUS_FILTERS if value != "all"]
        if status is not None and status not in statuses:
            raise InvalidInputError(f"Unknown status {status!r}; use one of {', '.join(statuses)}.")
        sorts = [value for _, value in SORTS]
        if order_by not in sorts:
            raise InvalidInputError(f"Cannot sort the browser by {order_by!r}; use one of "
                                    f"{', '.join(sorts)}.")
        # (``model_id`` is taken: ipywidgets names the widget's comm id so)
        self.id_filter = None if model_id is None else validate_model_id(model_id)
        self.service = resolve_service(service)
        if namespace is None:
            namespace = user_namespace()
        self.namespace: dict[str, Any] = {} if namespace is None else namespace
        self.page_size = page_size
        self.page = 0
        self.total_ = 0
        self.rows_: list[dict[str, Any]] = []
        self._importance: dict[tuple[str, str | None], Any] = {}
        self._pending_delete: tuple[str, ...] = ()
        self._updating = False

        w = widgets
        self.search = w.Text(value=search or "", placeholder="id or class, or e.g. validation_score > 0.9",
                             continuous_update=False, description="Search",
                             layout=w.Layout(width="280px"))
        self.status_filter = w.Dropdown(options=STATUS_FILTERS, value=status or "all",
                                        description="Status", layout=w.Layout(width="210px"))
        self.sort = w.Dropdown(options=SORTS, value=order_by, description="Sort by",
                               layout=w.Layout(width="300px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh",
                                       layout=w.Layout(width="90px"))
        self.header = w.HTML()
        self.header.add_class("jms-browser-header")
        self.table = w.SelectMultiple(options=[], rows=page_size, layout=w.Layout(width="100%"))
        self.prev_button = w.Button(description="◀ prev", layout=w.Layout(width="80px"))
        self.next_button = w.Button(description="next ▶", layout=w.Layout(width="80px"))
        self.page_label = w.Label()
        self.load_name = w.Text(value="model", description="as", placeholder="variable name",
                                layout=w.Layout(width="180px"))
        self.load_button = w.Button(description="Load", icon="download", button_style="info")
        self.new_status = w.Dropdown(options=SETTABLE_STATUSES, value="production",
                                     layout=w.Layout(width="120px"))
        self.status_button = w.Button(description="Set status → production", button_style="success",
                                      layout=w.Layout(width="210px"))
        self.delete_button = w.Button(description="Delete", icon="trash", button_style="danger")
        self.confirm_button = w.Button(description="Confirm delete", button_style="danger",
                                       layout=w.Layout(display="none"))
        self.cancel_button = w.Button(description="Cancel", layout=w.Layout(display="none"))
        self.x_name = w.Text(value="X_test", description="X", continuous_update=False,
                             layout=w.Layout(width="180px"))
        self.y_name = w.Text(value="y_test", description="y", continuous_update=False,
                             layout=w.Layout(width="180px"))
        self.compare_button = w.Button(description="Compare selected", icon="balance-scale",
                                       layout=w.Layout(width="170px"))
        self.message = w.Output()
        self.progress = w.Output()
        self.details = w.Output()
        self.comparison = w.Output()

        self.actions = ActionRunner(
            self.message,
            [self.refresh_button, self.prev_button, self.next_button, self.load_button,
             self.status_button, self.delete_button, self.confirm_button, self.cancel_button,
             self.compare_button],
            after=self._sync_buttons,
        )
        super().__init__(children=[
            w.HTML(_STYLE),
            w.HBox([self.search, self.status_filter, self.sort, self.refresh_button]),
            self.header,
            self.table,
            w.HBox([self.prev_button, self.page_label, self.next_button]),
            w.HBox([self.load_name, self.load_button, self.new_status, self.status_button,
                    self.delete_button, self.confirm_button, self.cancel_button]),
            w.HBox([self.x_name, self.y_name, self.compare_button]),
            self.message,
            self.progress,
            self.details,
            self.comparison,
        ])
        self.add_class("jms-browser")

        for control in (self.search, self.status_filter, self.sort):
            control.observe(self._on_filter, names="value")
        self.table.observe(self._on_select, names="value")
        self.new_status.observe(self._on_new_status, names="value")
        self.refresh_button.on_click(lambda _: self._navigate(self.page))
        self.prev_button.on_click(lambda _: self._navigate(self.page - 1))
        self.next_button.on_click(lambda _: self._navigate(self.page + 1))
        self.load_button.on_click(self._on_load)
        self.status_button.on_click(self._on_set_status)
        self.delete_button.on_click(self._on_delete)
        self.confirm_button.on_click(self._on_confirm_delete)
        self.cancel_button.on_click(lambda _: self._cancel_delete())
        self.compare_button.on_click(self._on_compare)
        with self.actions.run(clear=False):
            self.refresh()

    # -- display -----------------------------------------------------------
    def to_text(self) -> str:
        """The page on screen as plain text (what a notebook without widget state shows)."""
        header, lines = table_lines(self.rows_)
        body = "\n".join([header, *lines]).replace("\u00a0", " ")
        return f"Registry browser: {self.page_label.value}\n{body}"

    # -- state -------------------------------------------------------------
    @property
    def selected(self) -> tuple[str, ...]:
        """``"model_id:version"`` of the selected rows."""
        return tuple(self.table.value)

    @property
    def page_count(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total_ // self.page_size))

    def _shown_rows(self) -> dict[str, dict[str, Any]]:
        """The rows of the page on screen by ``"model_id:version"`` (the selection is among them)."""
        return {f"{r['model_id']}:{r['version']}": r for r in self.rows_}

    def _filters(self) -> dict[str, Any]:
        """The filters on screen; search text with an operator is a where expression of the
        query language (``validation_score > 0.9 and tags.team == 'vision'``), else plain text."""
        status = self.status_filter.value
        text = self.search.value.strip()
        query = looks_like_query(text)
        return {"status": None if status == "all" else status, "model_id": self.id_filter,
                "search": None if query else validate_search(text), "where": text if query else None}

    def refresh(self) -> None:
        """Query the page on screen again (keeping the selection when it is still there)."""
        registry = self.service.registry
        filters = self._filters()
        self.total_ = registry.count(**filters)
        self.page = min(max(self.page, 0), self.page_count - 1)
        self.rows_ = registry.list(**filters, order_by=self.sort.value, limit=self.page_size,
                                   offset=self.page * self.page_size)
        header, lines = table_lines(self.rows_)
        refs = [f"{r['model_id']}:{r['version']}" for r in self.rows_]
        keep = tuple(ref for ref in self.selected if ref in refs)
        self._updating = True
        try:
            self.header.value = html.escape(header)
            self.table.options = list(zip(lines, refs))
            self.table.rows = max(3, min(self.page_size, len(lines)))
            self.table.value = keep
        finally:
            self._updating = False
        noun = "version" if self.total_ == 1 else "versions"
        self.page_label.value = (f"page {self.page + 1} of {self.page_count} "
                                 f"({self.total_:,} {noun})")
        self._show_details()
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        if self.actions.busy:
            return
        n = len(self.selected)
        self.prev_button.disabled = self.page <= 0
        self.next_button.disabled = self.page >= self.page_count - 1
        self.load_button.disabled = n != 1
        self.status_button.disabled = n == 0
        self.delete_button.disabled = n == 0
        self.compare_button.disabled = n == 0

    # -- handlers ------------------------------------------------------------
    def _on_filter(self, change: dict[str, Any]) -> None:
        with self.actions.run(clear=False):
            self.page = 0
            self.refresh()

    def _navigate(self, page: int) -> None:
        with self.actions.run(clear=False):
            self.page = page
            self.refresh()

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._cancel_delete()
        with self.actions.run(clear=False):
            self._show_details()

    def _on_new_status(self, change: dict[str, Any]) -> None:
        self.status_button.description = f"Set status → {change['new']}"

    def _on_load(self, _button: Any = None) -> None:
        self._cancel_delete()
        with self.actions.run():
            if len(self.selected) != 1:
                raise InvalidInputError("Select exactly one version to load.")
            name = self.load_name.value.strip()
            if not name.isidentifier() or keyword.iskeyword(name):
                raise InvalidInputError(
                    f"{name!r} is not a valid Python variable name; type a name such as 'model'.")
            ref = self.selected[0]
            try:
                self.service.load_model(ref)
                self.namespace[name] = self.service.current_model
                self.actions.say(f"Loaded {ref} ({type(self.service.current_model).__name__}) "
                                 f"as {name!r}.")
            finally:
                self.refresh()

    def _on_set_status(self, _button: Any = None) -> None:
        self._cancel_delete()
        status = self.new_status.value
        with self.actions.run():
            try:
                changes = []
                shown = self._shown_rows()
                for ref in self.selected:
                    before = shown[ref]["status"]
                    self.service.update_model_metadata(ref, {"status": status})
                    changes.append(f"{ref}: {before} → {status}")
                if not changes:
                    raise InvalidInputError("Select one or more versions first.")
                self.actions.say("; ".join(changes) + ".")
            finally:
                self.refresh()

    def _on_delete(self, _button: Any = None) -> None:
        with self.actions.run():
            if not self.selected:
                raise InvalidInputError("Select one or more versions first.")
            self._pending_delete = self.selected
            self.confirm_button.layout.display = None
            self.cancel_button.layout.display = None
            self.actions.say(f"Delete {', '.join(self._pending_delete)} and the model file(s)? "
                             "Click 'Confirm delete' to proceed.")

    def _on_confirm_delete(self, _button: Any = None) -> None:
        refs, self._pending_delete = self._pending_delete, ()
        self._cancel_delete()
        with self.actions.run():
            try:
                if not refs:
                    raise InvalidInputError("Nothing to delete: click Delete first.")
                deleted = []
                for ref in refs:
                    self.service.delete_model(ref)
                    deleted.append(ref)
                self.actions.say(f"Deleted {', '.join(deleted)}.")
            finally:
                self.refresh()

    def _cancel_delete(self) -> None:
        self._pending_delete = ()
        self.confirm_button.layout.display = "none"
        self.cancel_button.layout.display = "none"

    def _on_compare(self, _button: Any = None) -> None:
        self._cancel_delete()
        with self.actions.run():
            try:
                refs = self.selected
                if not refs:
                    raise InvalidInputError("Select the versions to compare first.")
                X = lookup(self.x_name.value.strip(), self.namespace, "X")
                y = lookup(self.y_name.value.strip(), self.namespace, "y")
                from ..display import ComparisonResult

                self.comparison.outputs = ()
                frame = compare_with_progress(self.service, refs, X, y, self.progress)
                result = ComparisonResult(frame)
                show_rich(self.comparison, result)
                self.actions.say(
                    f"Compared {len(refs)} version(s) on {self.x_name.value.strip()}/"
                    f"{self.y_name.value.strip()}: best {result.best} by {result.sort_by}.")
            finally:
                self.refresh()

    # -- details -------------------------------------------------------------
    def _show_details(self) -> None:
        self.details.outputs = ()
        refs = self.selected
        if not refs:
            return
        if len(refs) > 1:
            self.details.append_stdout(f"{len(refs)} versions selected: {', '.join(refs)}\n")
            return
        ref = refs[0]
        row = self._shown_rows()[ref]  # refresh() has just read it
        history = self.service.model_history(ref)
        show_bundle(self.details, {"text/html": details_html(self.service.files.public(row), history),
                                   "text/plain": f"{ref} ({row['model_class']}, {row['status']})"})
        chart = self._importance_chart(ref, row)
        if isinstance(chart, str):
            self.details.append_stdout(chart + "\n")
        elif chart is not None:
            show_bundle(self.details, chart)

    def _importance_chart(self, ref: str, row: Mapping[str, Any]) -> dict[str, str] | str | None:
        """The importance chart of ``ref`` (cached per file), a reason it has none, or None."""
        key = (ref, row.get("file_sha256"))
        if key not in self._importance:
            self._importance[key] = self._draw_importance(ref, row)
        return self._importance[key]

    def _draw_importance(self, ref: str, row: Mapping[str, Any]) -> dict[str, str] | str | None:
        from ..display import ImportanceResult

        try:
            with warnings.catch_warnings():
                # "no importances" is reported below; other warnings reach the message line
                warnings.simplefilter("ignore", NoImportanceWarning)
                importances = self.service.get_feature_importance(model_id=ref)
        except ModelServiceError as err:
            return f"No importance chart: {err}"
        if not importances:
            return f"No importance chart: {row['model_class']} has no feature importances or coefficients."
        result = ImportanceResult(importances, ref=ref, top=15)
        png = result.to_png()
        return None if png is None else png_bundle(png, result.to_text())
