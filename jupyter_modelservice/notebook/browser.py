"""`RegistryBrowser`: browse, inspect and manage the model registry in an ipywidgets panel.

A composite of standard ipywidgets (no custom JavaScript). The table is one
page of registry rows fetched with ``Registry.list(limit=, offset=)``, one row
more than it shows (so *next* knows whether there is a next page); the matches
are counted only when there is one, and then only up to `COUNT_CAP` (or to the
page on screen, past it): a search over a million versions is not counted to
its end on every keystroke, and the label says "1,000+ versions". Results and errors are written into ``Output`` widgets (see
:mod:`.panel_base`), which both a real JupyterLab and a test can read.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..evaluation.records import ranking_note
from ..exceptions import InvalidInputError
from ..ids import validate_model_id, validate_search
from ..registry.where import looks_like_query
from ..statuses import SETTABLE_STATUSES, STATUSES
from .browser_actions import BrowserActions
from .browser_details import VersionDetails
from .panel_base import (
    PANEL_STYLE,
    ActionRunner,
    TextFallbackPanel,
    resolve_service,
    user_namespace,
)
from .registry_rows import table_lines

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["RegistryBrowser"]

#: (label, value) of the status filter; "all" means no filter.
STATUS_FILTERS = (("all statuses", "all"), *((status, status) for status in STATUSES))

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

#: Matches are counted up to this many (or to the end of the page on screen); beyond, "1,000+".
COUNT_CAP = 1000

#: Statuses a user can set from the panel (``trained`` only comes from training).

#: A toolbar: its controls keep their size and wrap onto the next line when the panel is narrow.
TOOLBAR = {"flex_flow": "row wrap", "align_items": "center"}  # as wide as the panel (no 100%: + margins)


# ----------------------------------------------------------------------------- the panel


class RegistryBrowser(BrowserActions, TextFallbackPanel):
    """Browse and manage the registry: search, filter, sort, page, inspect and act.

    Parameters
    ----------
    service : ModelService, optional
        The registry to browse. When None: the service of the magics in a
        notebook that ran ``%load_ext jupyter_modelservice`` (the registry
        ``%ms_config`` points at), else a ``ModelService()`` on ``./models``.
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
    query : bool, default True
        Read the first page now. False builds and wires the panel without
        touching the registry; `query` reads it later.

    Attributes
    ----------
    rows_ : list of dict
        The registry rows of the page on screen.
    total_ : int
        How many versions match the filters; when ``total_capped_``, how
        many were counted (there are more).
    total_capped_ : bool
        Whether counting stopped at `COUNT_CAP` (or at the page on screen) with
        more matches left: the label then shows e.g. "page 1 of 67+ (1,000+ versions)".
    page : int
        The page on screen, from 0.

    Examples
    --------
    >>> from jupyter_modelservice.widgets import RegistryBrowser   # doctest: +SKIP
    >>> RegistryBrowser(service)                                   # doctest: +SKIP
    """

    title = "Registry browser"

    def __init__(self, service: ModelService | None = None, *,
                 namespace: dict[str, Any] | None = None, page_size: int = 15,
                 search: str = "", status: str | None = None,
                 order_by: str = "-training_date", model_id: str | None = None, query: bool = True) -> None:
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
        self.total_capped_ = False
        self._more = False  # whether a row follows the page on screen
        self.rows_: list[dict[str, Any]] = []
        self._pending: tuple[str, tuple[str, ...]] | None = None  # ("delete" | a status, refs) to confirm
        self._compared: tuple[str, ...] = ()  # the versions in the comparison on screen
        self._updating = False

        super().__init__(children=self._build(search, status or "all", order_by))
        self.add_class("jms-browser")
        self.add_class("jms-panel")
        self._wire()
        if query:
            self.query()

    def query(self) -> None:
        """Read the page on screen from the registry (`refresh`), reporting an error on the status
        line instead of raising (what the panel does on every change)."""
        with self.actions.run(clear=False):
            self.refresh()

    def _build(self, search: str, status: str, order_by: str) -> list[widgets.Widget]:
        """Create the controls (as attributes) and return the panel's rows of them; no registry read."""
        page_size = self.page_size
        w = widgets

        def fixed(width: str | None = None, **layout: Any) -> widgets.Layout:
            # a control keeps its size in a wrapping toolbar (a button its whole label)
            return w.Layout(width=width or "auto", flex="0 0 auto", **layout)

        self.search = w.Text(value=search, placeholder="id or class, or e.g. validation_score > 0.9",
                             continuous_update=False, description="Search", layout=fixed("300px"))
        self.status_filter = w.Dropdown(options=STATUS_FILTERS, value=status,
                                        description="Status", layout=fixed("210px"))
        self.sort = w.Dropdown(options=SORTS, value=order_by, description="Sort by", layout=fixed("300px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh", layout=fixed())
        self.header = w.HTML()
        self.header.add_class("jms-list-header")
        self.table = w.SelectMultiple(options=[], rows=page_size, layout=w.Layout(min_width="100%"))
        self.table.add_class("jms-mono")
        self.prev_button = w.Button(description="◀ prev", layout=fixed())
        self.next_button = w.Button(description="next ▶", layout=fixed())
        self.page_label = w.Label()
        self.load_name = w.Text(value="model", description="as", placeholder="variable name",
                                layout=fixed("180px"))
        self.load_button = w.Button(description="Load", icon="download", button_style="info", layout=fixed())
        self.new_status = w.Dropdown(options=SETTABLE_STATUSES, value="production", layout=fixed("120px"))
        self.status_button = w.Button(description="Set status → production", button_style="success",
                                      layout=fixed())
        self.delete_button = w.Button(description="Delete", icon="trash", button_style="danger", layout=fixed())
        self.confirm_button = w.Button(description="Confirm delete", button_style="danger",
                                       layout=fixed(display="none"))
        self.cancel_button = w.Button(description="Cancel", layout=fixed(display="none"))
        self.x_name = w.Text(value="X_test", description="X", continuous_update=False, layout=fixed("180px"))
        self.y_name = w.Text(value="y_test", description="y", continuous_update=False, layout=fixed("180px"))
        self.compare_button = w.Button(description="Compare selected", icon="balance-scale", layout=fixed())
        self.message = w.Output()  # one status line: progress, result or error of the latest action
        self.details = w.Output()
        self.comparison = w.Output()
        self.details_view = VersionDetails(self.service, self.details)

        self.actions = ActionRunner(
            self.message,
            [self.refresh_button, self.prev_button, self.next_button, self.load_button,
             self.status_button, self.delete_button, self.confirm_button, self.cancel_button,
             self.compare_button],
            after=self._sync_buttons,
        )
        # The list scrolls sideways inside its own box; its width follows its text (see refresh).
        self.listing = w.VBox([self.header, self.table], layout=w.Layout(overflow="auto hidden"))
        return [
            w.HTML(PANEL_STYLE),
            w.HBox([self.search, self.status_filter, self.sort, self.refresh_button], layout=w.Layout(**TOOLBAR)),
            self.listing,
            w.HBox([self.prev_button, self.page_label, self.next_button], layout=w.Layout(**TOOLBAR)),
            w.HBox([self.load_name, self.load_button, self.new_status, self.status_button,
                    self.delete_button, self.confirm_button, self.cancel_button], layout=w.Layout(**TOOLBAR)),
            w.HBox([self.x_name, self.y_name, self.compare_button], layout=w.Layout(**TOOLBAR)),
            self.message,
            self.details,
            self.comparison,
        ]

    def _wire(self) -> None:
        """Connect the controls to their handlers."""
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
        self.confirm_button.on_click(self._on_confirm)
        self.cancel_button.on_click(lambda _: self._cancel_pending(say="Cancelled."))
        self.compare_button.on_click(self._on_compare)

    # -- display -----------------------------------------------------------
    def to_text(self) -> str:
        """The page on screen as plain text (what a notebook without widget state shows)."""
        header, lines = table_lines(self.rows_)
        body = "\n".join([header, *lines]).replace("\u00a0", " ")
        return f"Registry browser: {self.page_label.value}\n{body}"

    def snapshot_html(self) -> str:
        """The page on screen as a static table (what a reopened notebook shows)."""
        from ..display import RegistryTable

        where = f"saved view of the registry browser, page {self.page + 1} of {self._pages_text()}"
        return RegistryTable(self.rows_, description=where).to_html()

    # -- state -------------------------------------------------------------
    @property
    def selected(self) -> tuple[str, ...]:
        """``"model_id:version"`` of the selected rows."""
        return tuple(self.table.value)

    @property
    def page_count(self) -> int:
        """Number of pages (at least 1; when ``total_capped_``, at least this many)."""
        return max(1, -(-self.total_ // self.page_size))

    def _pages_text(self) -> str:
        return f"{self.page_count:,}" + ("+" if self.total_capped_ else "")

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
        registry, filters, size = self.service.registry, self._filters(), self.page_size
        self.page = max(self.page, 0)

        def page_rows() -> list[dict[str, Any]]:  # one row more than shown: is there a next page?
            return registry.list(**filters, order_by=self.sort.value, limit=size + 1, offset=self.page * size)

        rows = page_rows()
        if not rows and self.page > 0:  # past the last page (rows went away): show the last one
            self._count(filters, self.page * size)  # exact: there are at most that many
            self.page = self.page_count - 1
            rows = page_rows()
        self._more, self.rows_ = len(rows) > size, rows[:size]
        if self._more:
            self._count(filters, max(COUNT_CAP, (self.page + 1) * size))
        else:  # the last page: the count is known without counting
            self.total_, self.total_capped_ = self.page * size + len(self.rows_), False
        header, lines = table_lines(self.rows_)
        refs = [f"{r['model_id']}:{r['version']}" for r in self.rows_]
        keep = tuple(ref for ref in self.selected if ref in refs)
        self._updating = True
        try:
            self.header.value = html.escape(header)
            self.table.options = list(zip(lines, refs))
            self.table.rows = max(3, min(self.page_size, len(lines)))
            self.table.value = keep
            # as wide as its text (monospace: 1ch a character), so that the list scrolls sideways
            width = f"calc({max(map(len, [header, *lines])) + 2}ch + 24px)"
            self.table.layout.width = self.header.layout.min_width = width
        finally:
            self._updating = False
        noun = "version" if self.total_ == 1 and not self.total_capped_ else "versions"
        self.page_label.value = (f"page {self.page + 1:,} of {self._pages_text()} "
                                 f"({self.total_:,}{'+' if self.total_capped_ else ''} {noun})")
        note = ranking_note(self.rows_, self.sort.value)  # scores of other data are no ranking
        if note:
            self.page_label.value += f" · {note}"
        self._show_details()
        self._sync_buttons()
        self.refresh_snapshot()

    def _count(self, filters: dict[str, Any], upto: int) -> None:
        """Count the matches, stopping after ``upto`` (`total_`, `total_capped_`)."""
        found = self.service.registry.count(**filters, limit=upto + 1)
        self.total_, self.total_capped_ = min(found, upto), found > upto

    def _sync_buttons(self) -> None:
        if self.actions.busy:
            return
        n = len(self.selected)
        self.prev_button.disabled = self.page <= 0
        self.next_button.disabled = not self._more
        self.load_button.disabled = n != 1
        self.status_button.disabled = n == 0
        self.delete_button.disabled = n == 0
        self.compare_button.disabled = n == 0

    # -- handlers ------------------------------------------------------------
    def _on_filter(self, change: dict[str, Any]) -> None:
        self._navigate(0)

    def _navigate(self, page: int) -> None:
        self.page = page
        self.query()

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._cancel_pending()
        with self.actions.run(clear=False):
            self._show_details()

    def _on_new_status(self, change: dict[str, Any]) -> None:
        self.status_button.description = f"Set status → {change['new']}"

    # -- details -------------------------------------------------------------
    def _show_details(self) -> None:
        self.details_view.show(self.selected, self._shown_rows())
