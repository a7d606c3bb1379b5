"""Kernel interrupts during a magic: one line saying what was kept, nothing half-done.

An interrupt (Kernel → Interrupt, or Ctrl-C in a terminal) arrives as
``KeyboardInterrupt`` wherever the magic happens to be: inside scikit-learn,
joblib or the registry. The magics catch it, undo what the interrupted step
left unfinished (a version registered but not saved is deleted again), and
raise `MagicInterrupted`: still an interrupt, so "Run All" stops there, but
IPython shows its one line instead of a traceback through the libraries.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["MagicInterrupted", "interruptible", "rollback_version", "shielded"]


class MagicInterrupted(KeyboardInterrupt):
    """A magic stopped by a kernel interrupt; the message says what was kept.

    A ``KeyboardInterrupt`` (not an error: it is not a `ModelServiceError`), so
    that it stops a "Run All" and any code that stops on interrupts. IPython
    shows the message alone (``_render_traceback_``).
    """

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


@contextmanager
def interruptible(doing: str) -> Iterator[None]:
    """Turn an interrupt during ``doing`` (``"evaluating rf:1"``) into one line.

    For magics that only read, or write in single registry transactions: an
    interrupt leaves no partial record, and the line says so.
    """
    try:
        yield
    except MagicInterrupted:
        raise
    except KeyboardInterrupt:
        raise MagicInterrupted(f"Interrupted while {doing}; no partial result was recorded.") from None


@contextmanager
def shielded() -> Iterator[None]:
    """Hold back a second interrupt while a rollback runs (main thread only), then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def rollback_version(service: ModelService, ref: str) -> str:
    """Delete the version ``ref`` that an interrupted magic registered; say what became of it."""
    from ..exceptions import ModelServiceError

    try:
        with shielded():
            service.delete_model(ref)
    except ModelServiceError as err:
        return f"{ref} was registered and could not be removed ({err}); delete it with the registry browser"
    return "nothing was saved"
