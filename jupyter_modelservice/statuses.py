"""A version's statuses, in lifecycle order, named once.

A light module (no imports): the command line, the magics and the widgets list
the statuses without importing the registry.
"""

from __future__ import annotations

__all__ = ["SETTABLE_STATUSES", "STATUSES"]

#: Every status a version can have: ``trained`` (in memory, not saved yet), ``saved``,
#: ``production``, ``archived``.
STATUSES = ("trained", "saved", "production", "archived")
#: The statuses a person sets by hand (``trained`` comes from training only).
SETTABLE_STATUSES = STATUSES[1:]
