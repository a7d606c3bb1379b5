"""Progress of long magics (cross-validation folds, models compared).

A progress object is the ``progress(done, total)`` callback the service calls
after each unit of work, and a context manager that ends as a one-line summary::

    with progress_bar(total=5, description="CV", unit="folds") as bar:
        result = service.cross_validate_model(..., progress=bar)
        bar.finish(f"accuracy {result['mean_score']:.3f}")

In a Jupyter kernel with ipywidgets it is an ``IntProgress`` and a ``Label``
that end as a line of text (what a saved notebook keeps); elsewhere (terminal
IPython, no ipywidgets) a line of text rewritten in place; inside a widget
panel, the panel's status line (`StatusProgress`). An interrupt
(``KeyboardInterrupt``) erases the progress: the magic says in one line what
was kept.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Progress", "SilentProgress", "StatusProgress", "TextProgress", "WidgetProgress", "in_widget_kernel", "progress_bar"]


class Progress:
    """A progress object: counts, elapsed time and the context-manager protocol; subclasses draw it."""

    def __init__(self, total: int, description: str, unit: str) -> None:
        self.total = total
        self.done = 0
        self.description = description
        self.unit = unit
        self.closed = False
        self._start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return time.perf_counter() - self._start

    def _status(self) -> str:
        return f"{self.done}/{self.total} {self.unit}"

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._update()

    def finish(self, summary: str = "", failed: bool = False) -> None:
        """End the progress with a one-line summary (counts and elapsed time are prepended)."""
        if self.closed:
            return
        self.closed = True
        parts = [self.description, self._status(), summary, f"{self.elapsed:.2f} s"]
        if failed:
            parts.insert(1, "failed")
        self._close(" · ".join(p for p in parts if p), failed)

    def erase(self) -> None:
        """End the progress leaving nothing on screen (the caller reports what happened)."""
        if not self.closed:
            self.closed = True
            self._close("", True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.erase()
        else:
            self.finish(failed=exc_type is not None)

    def _update(self) -> None:
        raise NotImplementedError

    def _close(self, line: str, failed: bool) -> None:
        raise NotImplementedError


class SilentProgress(Progress):
    """Progress that counts and shows nothing (a magic run with ``-q``)."""

    def _update(self) -> None:
        pass

    def _close(self, line: str, failed: bool) -> None:
        pass


class TextStream(Protocol):
    """Where `TextProgress` writes: ``write`` and ``flush``, as ``sys.stdout`` has them."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class TextProgress(Progress):
    """Progress as one line of text on ``stream``, rewritten with ``\\r``.

    Parameters
    ----------
    total : int
    description : str
        What is running (``"Cross-validation"``).
    unit : str, default "steps"
    stream : file-like, optional
        Where to write; ``sys.stdout`` at the time of each write by default.
    """

    def __init__(self, total: int, description: str, unit: str = "steps",
                 stream: TextStream | None = None) -> None:
        super().__init__(total, description, unit)
        self._stream = stream
        self._width = 0
        self._write(f"{description}: {self._status()}")

    def _write(self, text: str, end: str = "") -> None:
        stream = self._stream or sys.stdout
        stream.write("\r" + text.ljust(self._width) + ("\r" if not text else end))
        stream.flush()
        self._width = len(text)

    def _update(self) -> None:
        self._write(f"{self.description}: {self._status()}")

    def _close(self, line: str, failed: bool) -> None:
        self._write(line, end="\n")  # an empty line (erase) leaves the cursor where the line began


class StatusProgress(Progress):
    """Progress as a widget panel's status line: each update replaces the line, the summary ends it.

    Parameters
    ----------
    total : int
    description : str
    unit : str, default "steps"
    say : callable
        Makes its one argument the status line (``ActionRunner.say``).
    """

    def __init__(self, total: int, description: str, unit: str = "steps", *,
                 say: Callable[[str], None]) -> None:
        super().__init__(total, description, unit)
        self._say = say
        self._update()

    def _update(self) -> None:
        self._say(f"{self.description}: {self._status()}")

    def _close(self, line: str, failed: bool) -> None:
        if line:  # erased: the action's own line (its error) replaces the progress
            self._say(line)


class WidgetProgress(Progress):
    """Progress as an ``ipywidgets.IntProgress`` with a ``Label``, ending as a line of text.

    At the end the output is replaced by the summary as plain text (with the
    same display id), and the widgets are closed: a saved notebook keeps the
    line, not a widget that no longer exists.

    Attributes
    ----------
    display_id : str
        The id of the output the bar was displayed in.
    """

    def __init__(self, total: int, description: str, unit: str = "steps") -> None:
        import uuid

        import ipywidgets
        from IPython.display import display

        super().__init__(total, description, unit)
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=max(total, 1), description=description,
                                          style={"description_width": "initial"})
        self.label = ipywidgets.Label(value=self._status())
        self.box = ipywidgets.HBox([self.bar, self.label])
        bundle = self.box._repr_mimebundle_()
        bundle["text/plain"] = f"{description}: {total} {unit}"
        self.display_id = uuid.uuid4().hex
        display(bundle, raw=True, display_id=self.display_id)

    def _update(self) -> None:
        self.bar.max = max(self.total, 1)
        self.bar.value = self.done
        self.label.value = self._status()

    def _close(self, line: str, failed: bool) -> None:
        from IPython.display import update_display

        self.bar.bar_style = "danger" if failed else "success"
        self.label.value = line
        update_display({"text/plain": line}, raw=True, display_id=self.display_id)
        self.box.close()
        self.bar.close()
        self.label.close()


def in_widget_kernel(shell: Any) -> bool:
    """Whether ``shell`` runs in a Jupyter kernel where ipywidgets can render."""
    return getattr(shell, "kernel", None) is not None and importlib.util.find_spec("ipywidgets") is not None


def progress_bar(total: int, description: str, unit: str = "steps", *, shell: Any = None,
                 quiet: bool = False) -> Progress:
    """A widget progress bar in a Jupyter kernel with ipywidgets, a text line elsewhere.

    Parameters
    ----------
    total : int
        Expected number of steps (updated by the callback if it differs).
    description : str
        What is running, shown before the bar.
    unit : str, default "steps"
        Name of a step (``"folds"``, ``"models"``).
    shell : InteractiveShell, optional
        The running shell, to tell a kernel from a terminal.
    quiet : bool, default False
        Show nothing (`SilentProgress`): the magic was asked for no output.

    Returns
    -------
    TextProgress, WidgetProgress or SilentProgress
    """
    if quiet:
        return SilentProgress(total, description, unit)
    cls = WidgetProgress if in_widget_kernel(shell) else TextProgress
    return cls(total, description, unit)
