"""Plumbing shared by the widget panels: running actions, writing outputs, progress on the status line.

Panels write into ``Output`` widgets by setting their ``outputs`` (streams and
MIME bundles), which a test reads directly and a real JupyterLab renders; no
IPython shell is needed for that, so the panels run the same in a kernel, a
test and a benchmark.
"""

from __future__ import annotations

import base64
import sys
import traceback
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.core.error import UsageError

from ..exceptions import ModelServiceError
from .progress import Progress, StatusProgress

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = [
    "PANEL_STYLE",
    "ActionRunner",
    "TextFallbackPanel",
    "compare_with_progress",
    "notebook_service",
    "png_bundle",
    "resolve_service",
    "show_bundle",
    "show_rich",
    "user_namespace",
]


def user_namespace() -> dict[str, Any] | None:
    """The running IPython shell's ``user_ns``, or None outside IPython."""
    if "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    return None if shell is None else shell.user_ns


def notebook_service() -> ModelService | None:
    """The service of the magics (``%load_ext jupyter_modelservice``) in the running IPython, or None.

    It is created on first use from the ``%ms_config`` settings, like the magics do.
    """
    if "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    magics = None if shell is None else shell.magics_manager.registry.get("ModelServiceMagics")
    return None if magics is None else magics.service


def resolve_service(service: ModelService | None) -> ModelService:
    """``service``; when None, the magics' service in a notebook that loaded the extension
    (the registry ``%ms_config`` points at), else a new ``ModelService()`` on ``./models``."""
    if service is not None:
        return service
    shared = notebook_service()
    if shared is not None:
        return shared
    from ..service import ModelService

    return ModelService()


def show_bundle(out: widgets.Output, bundle: Mapping[str, Any]) -> None:
    """Append a MIME bundle to ``out`` (what ``append_display_data`` stores).

    Writing the output dictionary directly needs no IPython shell, so it works
    the same in a kernel, in a test and in a benchmark.
    """
    out.outputs += ({"output_type": "display_data", "data": dict(bundle), "metadata": {}},)


def show_rich(out: widgets.Output, result: Any) -> None:
    """Append a display result (``_repr_mimebundle_``) to ``out``."""
    show_bundle(out, result._repr_mimebundle_())


def png_bundle(png: bytes, text: str) -> dict[str, str]:
    """A MIME bundle of a PNG chart with its text fallback."""
    return {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}


class ActionRunner:
    """Run panel actions: buttons disabled while busy, one status line, readable errors.

    The ``message`` Output holds one status line, always the latest: what an
    action says (or its progress, or its error) replaces what was there.
    A `ModelServiceError` (or a ``UsageError`` about the user's input) shows its message only; any other exception shows
    its one-line summary followed by the traceback (nothing is hidden).
    Warnings raised during the action follow the line as ``warning: ...`` lines.
    ``on_error`` is called when an action fails, to clear what the error invalidates.
    """

    def __init__(self, message: widgets.Output, buttons: Sequence[widgets.Button],
                 after: Any = None, on_error: Any = None) -> None:
        self.message = message
        self.buttons = list(buttons)
        self.after = after  # called with no argument when an action ends (re-enables buttons)
        self.on_error = on_error  # called with no argument when an action fails
        self.busy = False

    def say(self, line: str) -> None:
        """Make ``line`` the status line."""
        self.message.outputs = (_stream("stdout", line),)

    def error(self, line: str) -> None:
        """Make the error ``line`` the status line."""
        self.message.outputs = (_stream("stderr", line),)

    def warn(self, line: str) -> None:
        """Add ``line`` under the status line (a warning of the same action)."""
        self.message.outputs += (_stream("stderr", line),)

    def progress(self, total: int, description: str, unit: str = "steps") -> StatusProgress:
        """A progress object whose line is the status line while it runs, and ends as its summary."""
        return StatusProgress(total, description, unit, say=self.say)

    @contextmanager
    def run(self, clear: bool = True) -> Iterator[None]:
        if clear:
            self.message.outputs = ()
        self.busy = True
        for button in self.buttons:
            button.disabled = True
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
            seen: set[str] = set()
            for w in caught:
                text = str(w.message)
                if text not in seen:
                    seen.add(text)
                    self.warn(f"warning: {text}")
        except (ModelServiceError, UsageError) as err:
            self.error(f"Error: {err}")
            self._failed()
        except Exception as err:  # a bug or a library error: say it, keep the traceback visible
            self.error(f"Error ({type(err).__name__}): {err}")
            self.warn("".join(traceback.format_exception(err)))
            self._failed()
        finally:
            self.busy = False
            for button in self.buttons:
                button.disabled = False
            if self.after is not None:
                self.after()


    def _failed(self) -> None:
        if self.on_error is not None:
            self.on_error()


def _stream(name: str, text: str) -> dict[str, str]:
    return {"output_type": "stream", "name": name, "text": text.rstrip("\n") + "\n"}


def compare_with_progress(service: ModelService, refs: Sequence[str], X: Any, y: Any,
                          progress: Progress, *, done: int = 0) -> Any:
    """``service.compare_models`` reporting to ``progress`` (a progress object, used as a context).

    ``done`` versions of ``progress.total`` are already evaluated (cached): the
    line counts every version compared, not only those evaluated now.
    """
    with progress as bar:
        bar(done, bar.total)
        return service.compare_models(list(refs), X, y, progress=lambda n, _: bar(done + n, bar.total))


#: Styles of the panels (``.jms-panel``): monospace lists, and disabled buttons that look disabled
#: (ipywidgets only dims them to 60 %, which leaves a coloured button looking clickable).
PANEL_STYLE = """<style>
.jms-panel .jms-mono, .jms-panel .jms-mono select, .jms-panel .jms-list-header {
  font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 12px);
}
.jms-panel .jms-list-header { white-space: pre; padding: 0 0 0 6px; font-weight: 600; }
.jms-panel .jms-details td.jms-left { white-space: normal; overflow-wrap: anywhere; }
.jms-panel .jupyter-button:disabled {
  opacity: 1;
  background-color: var(--jp-layout-color3, #e0e0e0);
  color: var(--jp-ui-font-color3, #9e9e9e);
  box-shadow: none;
  cursor: not-allowed;
}
</style>"""

#: A saved notebook holds the widget output and, next to it, a static view of the panel. While the
#: panel is live the static view is hidden; where the panel cannot render (the notebook reopened,
#: its widget state gone) the widget output's "model not found" is hidden and the static view shows.
#: Without this stylesheet (an untrusted notebook, GitHub, nbconvert) both show, the widget output
#: as one line of text or nothing.
SNAPSHOT_STYLE = """<style>
.jp-OutputArea-child:has(.jms-panel) + .jp-OutputArea-child:has(.jms-snapshot) { display: none; }
.jp-OutputArea-child:has(.jupyter-widgets):not(:has(.jms-panel)):has(+ .jp-OutputArea-child .jms-snapshot) {
  display: none;
}
</style>"""


class TextFallbackPanel(widgets.VBox):
    """A panel that reads well where its widgets cannot render.

    Its ``text/plain`` is its own `to_text()` (a terminal). Displayed in a
    notebook it leaves two outputs: the widget, and a static view of what it
    showed (`snapshot_html`) that a reopened notebook, nbconvert HTML and
    GitHub show instead of "Error displaying widget: model not found".
    """

    #: How the panel is named in its one-line text fallback.
    title = "Panel"
    #: The display id of the static view once the panel is displayed (`refresh_snapshot` updates it).
    _snapshot_id: str | None = None

    def to_text(self) -> str:  # pragma: no cover - every panel defines it
        raise NotImplementedError

    def snapshot_html(self) -> str:  # pragma: no cover - every panel defines it
        """What the panel shows now, as static HTML (the package's scoped ``.jms`` styles)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.to_text()
        return bundle

    def snapshot_bundle(self) -> dict[str, str]:
        """The static view: HTML (with the style that hides it next to the live panel) and text."""
        return {"text/html": f'<div class="jms-snapshot">{SNAPSHOT_STYLE}{self.snapshot_html()}</div>',
                "text/plain": self.to_text()}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        widget = super()._repr_mimebundle_()
        widget["text/plain"] = f"{self.title} (interactive: run the cell to use it; its saved view follows)"
        display(widget, raw=True)
        self._snapshot_id = uuid.uuid4().hex
        display(self.snapshot_bundle(), raw=True, display_id=self._snapshot_id)

    def refresh_snapshot(self) -> None:
        """Bring the static view up to date with what the panel shows now (once it is displayed):
        a notebook saved later keeps what the panel last showed, not what it first showed."""
        if self._snapshot_id is None:
            return
        from IPython.display import update_display

        update_display(self.snapshot_bundle(), raw=True, display_id=self._snapshot_id)
