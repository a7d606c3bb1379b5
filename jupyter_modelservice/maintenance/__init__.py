"""Keeping a registry healthy: verify, repair, garbage-collect, rebuild, export and import.

The logic behind the ``modelservice`` command (`jupyter_modelservice.cli`),
usable from Python too. Every function takes a `ModelService` and returns a
`Report` (problems, changes and notes, each a `Finding`; ``to_dict()`` for
JSON); none of them prints or deserializes a model.

>>> from jupyter_modelservice import maintenance            # doctest: +SKIP
>>> report = maintenance.verify(service)                    # doctest: +SKIP
>>> report.ok, report.kinds()                               # doctest: +SKIP
(True, {})
"""

from __future__ import annotations

from .archive import ARCHIVE_PROTOCOL, export_version, import_version
from .gc import collect_garbage
from .rebuild import rebuild_index
from .report import KINDS, Finding, Report
from .verify import DEFAULT_GRACE, repair, verify

__all__ = [
    "ARCHIVE_PROTOCOL",
    "DEFAULT_GRACE",
    "KINDS",
    "Finding",
    "Report",
    "collect_garbage",
    "export_version",
    "import_version",
    "rebuild_index",
    "repair",
    "verify",
]
