"""Plumbing shared by the widget panels: running actions, writing outputs, progress.

Panels write into ``Output`` widgets by setting their ``outputs`` (streams and
MIME bundles), which a test reads directly and a real JupyterLab renders; no
IPython shell is needed for that, so the panels run the same in a kernel, a
test and a benchmark.
"""

from __future__ import annotations

import base64
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.core.error import UsageError

from ..exceptions import ModelServiceError
from .progress import TextProgress

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = [
    "ActionRunner",
    "OutputLine",
    "compare_with_progress",
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


def resolve_service(service: ModelService | None) -> ModelService:
    """``service``, or a new ``ModelService()`` on ``./models`` when None."""
    if service is not None:
        return service
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
    """Run panel actions: buttons disabled while busy, one-line results, readable errors.

    A `ModelServiceError` (or a ``UsageError`` about the user's input) shows its message only; any other exception shows
    its one-line summary followed by the traceback (nothing is hidden).
    Warnings raised during the action are shown as ``warning: ...`` lines.
    """

    def __init__(self, message: widgets.Output, buttons: Sequence[widgets.Button],
                 after: Any = None) -> None:
        self.message = message
        self.buttons = list(buttons)
        self.after = after  # called with no argument when an action ends (re-enables buttons)
        self.busy = False

    def say(self, line: str) -> None:
        self.message.append_stdout(line.rstrip("\n") + "\n")

    def error(self, line: str) -> None:
        self.message.append_stderr(line.rstrip("\n") + "\n")

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
                    self.error(f"warning: {text}")
        except (ModelServiceError, UsageError) as err:
            self.error(f"Error: {err}")
        except Exception as err:  # a bug or a library error: say it, keep the traceback visible
            self.error(f"Error ({type(err).__name__}): {err}")
            self.message.append_stderr("".join(traceback.format_exception(err)))
        finally:
            self.busy = False
            for button in self.buttons:
                button.disabled = False
            if self.after is not None:
                self.after()


class OutputLine:
    """A text stream that keeps only the latest line in an ``Output`` widget.

    Lets a :class:`~jupyter_modelservice.notebook.progress.TextProgress` (which
    rewrites its line with ``\\r``) report inside a panel: the Output always
    holds one stream output, the current line, and ends with the summary.
    """

    def __init__(self, out: widgets.Output) -> None:
        self.out = out

    def write(self, text: str) -> int:
        line = text.rsplit("\r", 1)[-1].strip()
        if line:
            self.out.outputs = ({"output_type": "stream", "name": "stdout", "text": line + "\n"},)
        return len(text)

    def flush(self) -> None:
        pass


def compare_with_progress(service: ModelService, refs: Sequence[str], X: Any, y: Any,
                          out: widgets.Output) -> Any:
    """``service.compare_models`` with a models-done / elapsed-time line in ``out``."""
    with TextProgress(len(refs), "Evaluating", "models", stream=OutputLine(out)) as bar:
        return service.compare_models(list(refs), X, y, progress=bar)


class TextFallbackPanel(widgets.VBox):
    """A panel whose ``text/plain`` is its own `to_text()` (what a notebook saved
    without widget state, or a terminal, shows instead of the widgets)."""

    def to_text(self) -> str:  # pragma: no cover - every panel defines it
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.to_text()
        return bundle
