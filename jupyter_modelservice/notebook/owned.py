"""`OwnedMagics`: a group of magics that works with the service of the extension's main magics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics

if TYPE_CHECKING:
    from .magics import ModelServiceMagics

__all__ = ["OwnedMagics"]


class OwnedMagics(Magics):
    """Magics that use the service of ``owner``.

    Parameters
    ----------
    shell : InteractiveShell
    owner : ModelServiceMagics
        The extension's main magics, whose service (created on first use) is shared.
    """

    def __init__(self, shell: Any, owner: ModelServiceMagics) -> None:
        super().__init__(shell)
        self.owner = owner
