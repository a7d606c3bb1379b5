"""What the registry browser's buttons do: load, set status, delete (both after a question when it
matters) and compare the selected versions.

A mixin of :class:`~jupyter_modelservice.notebook.browser.RegistryBrowser`, which holds the widgets
(``table``, ``message``, ``comparison``, the buttons), the service and the namespace; each handler
runs through its `ActionRunner`, so the status line always says what the latest action did.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidInputError
from .panel_base import compare_with_progress, show_rich
from .resolve import lookup

if TYPE_CHECKING:
    import ipywidgets

    from ..service import ModelService
    from .panel_base import ActionRunner

__all__ = ["BrowserActions"]


class BrowserActions:
    """Handlers of the registry browser's action buttons (see `RegistryBrowser`)."""

    # What the browser provides.
    service: ModelService
    namespace: dict[str, Any]
    actions: ActionRunner
    message: ipywidgets.Output
    comparison: ipywidgets.Output
    load_name: ipywidgets.Text
    x_name: ipywidgets.Text
    y_name: ipywidgets.Text
    new_status: ipywidgets.Dropdown
    confirm_button: ipywidgets.Button
    cancel_button: ipywidgets.Button
    _pending: tuple[str, tuple[str, ...]] | None
    _compared: tuple[str, ...]

    @property
    def selected(self) -> tuple[str, ...]:  # pragma: no cover - RegistryBrowser's
        raise NotImplementedError

    def refresh(self) -> None:  # pragma: no cover - RegistryBrowser's
        raise NotImplementedError

    def _shown_rows(self) -> dict[str, dict[str, Any]]:  # pragma: no cover - RegistryBrowser's
        raise NotImplementedError

    def _on_load(self, _button: Any = None) -> None:
        self._cancel_pending()
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
        self._cancel_pending()
        status = self.new_status.value
        with self.actions.run():
            refs = self.selected
            if not refs:
                raise InvalidInputError("Select one or more versions first.")
            demoted = self._demoted_by(refs) if status == "production" else []
            if len(refs) + len(demoted) == 1:
                self._set_status(refs, status)
                return
            also = (f" This demotes {', '.join(demoted)} (production → saved)." if demoted else "")
            self._ask(status, refs, f"Set the status of {', '.join(refs)} to {status}?{also} "
                                    "Click 'Confirm' to proceed.", "Confirm status change")

    def _demoted_by(self, refs: tuple[str, ...]) -> list[str]:
        """The production versions that promoting ``refs`` would demote (one production per id)."""
        registry = self.service.registry
        ids = dict.fromkeys(ref.rpartition(":")[0] for ref in refs)
        current = [f"{r['model_id']}:{r['version']}" for i in ids
                   for r in registry.list(model_id=i, status="production")]
        return [ref for ref in current if ref not in refs]

    def _set_status(self, refs: tuple[str, ...], status: str) -> None:
        try:
            changes = []
            shown = self._shown_rows()
            for ref in refs:
                before = shown[ref]["status"] if ref in shown else self.service.get_model_metadata(ref)["status"]
                self.service.update_model_metadata(ref, {"status": status})
                changes.append(f"{ref}: {before} → {status}")
            self.actions.say("; ".join(changes) + ".")
        finally:
            self.refresh()

    def _on_delete(self, _button: Any = None) -> None:
        self._cancel_pending()
        with self.actions.run():
            if not self.selected:
                raise InvalidInputError("Select one or more versions first.")
            self._ask("delete", self.selected, f"Delete {', '.join(self.selected)} and the model file(s)? "
                                               "Click 'Confirm delete' to proceed.", "Confirm delete")

    def _ask(self, action: str, refs: tuple[str, ...], question: str, confirm: str) -> None:
        """Hold ``action`` on ``refs`` until Confirm is clicked (Cancel or any other action drops it)."""
        self._pending = (action, refs)
        self.confirm_button.description = confirm
        self.confirm_button.button_style = "danger" if action == "delete" else "warning"
        self.confirm_button.layout.display = None
        self.cancel_button.layout.display = None
        self.actions.say(question)

    def _on_confirm(self, _button: Any = None) -> None:
        pending, label = self._pending, self.confirm_button.description
        self._cancel_pending()
        with self.actions.run():
            if pending is None:
                raise InvalidInputError(f"Nothing to confirm: the question behind '{label}' was cancelled.")
            action, refs = pending
            if action != "delete":
                self._set_status(refs, action)
                return
            try:
                deleted = []
                for ref in refs:
                    self.service.delete_model(ref)
                    deleted.append(ref)
                self.actions.say(f"Deleted {', '.join(deleted)}.")
            finally:
                if set(self._compared) & set(refs):  # the comparison on screen showed them: it is gone
                    self._show_comparison(None)
                self.refresh()

    def _cancel_pending(self, say: str | None = None) -> None:
        """Drop a question waiting for Confirm (and its line, which no longer holds)."""
        if self._pending is not None:
            self._pending = None
            self.message.outputs = ()
            if say:
                self.actions.say(say)
        self.confirm_button.layout.display = "none"
        self.cancel_button.layout.display = "none"

    def _on_compare(self, _button: Any = None) -> None:
        self._cancel_pending()
        self._show_comparison(None)  # an error must not leave an older comparison under it
        with self.actions.run():
            try:
                refs = self.selected
                if not refs:
                    raise InvalidInputError("Select the versions to compare first.")
                x_name, y_name = self.x_name.value.strip(), self.y_name.value.strip()
                X = lookup(x_name, self.namespace, "X")
                y = lookup(y_name, self.namespace, "y")
                from ..display import ComparisonResult

                frame = compare_with_progress(self.service, refs, X, y,
                                              self.actions.progress(len(refs), "Evaluating", "models"))
                result = ComparisonResult(frame)
                self._show_comparison(result, refs)
                self.actions.say(f"Compared {len(refs)} version(s) on {x_name}/{y_name}: "
                                 f"best {result.best} by {result.sort_by}.")
            finally:
                self.refresh()

    def _show_comparison(self, result: Any, refs: tuple[str, ...] = ()) -> None:
        self.comparison.outputs = ()
        self._compared = refs if result is not None else ()
        if result is not None:
            show_rich(self.comparison, result)
