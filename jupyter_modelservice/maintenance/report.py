"""`Report`: the one result of every maintenance command (verify, repair, gc, rebuild-index, import).

A report holds `Finding` objects in three lists: ``problems`` (what is
wrong: ``ok`` is False when there is any), ``changes`` (what the command
did, or with ``dry_run`` would do) and ``notes`` (worth knowing, not wrong).
Each finding has a ``kind`` saying what it is (``missing_file``,
``removed``, ``added``, ...: `KINDS` lists them with what to do about
each), a message, and the version reference, store path and size it is
about. ``report.of(kind)``, ``refs(kind)`` and ``paths(kind)`` select
findings; ``to_dict()`` is the JSON the command line prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Finding", "Report"]

#: Every kind of finding, with what to do about it (None: nothing to do).
KINDS: dict[str, str | None] = {
    # problems (verify)
    "missing_file": "save the model again or delete this version",
    "hash_mismatch": "the file was changed or damaged after saving; restore it from a backup or "
                     "delete this version",
    "incomplete_save": "run `modelservice verify --repair`",
    "unsafe_path": "remove the link; files must live inside the models directory",
    "unexpected_path": "the row points outside its model's folder; check who edited the registry",
    "missing_sidecar": "run `modelservice verify --repair`",
    "stale_sidecar": "run `modelservice verify --repair`",
    "orphan_file": "no row points at it; if you know where it came from, `modelservice rebuild-index` "
                   "restores it from its sidecar as unverified (not loadable until you run "
                   "`modelservice trust REF`), else delete it",
    "orphan_sidecar": "no row for it; `modelservice rebuild-index` restores the row as unverified if the "
                      "file is there; sidecars are not evidence, check who wrote it",
    "unverified": "its record came from a sidecar or an archive; check what it is and where it came "
                  "from, then confirm it with `modelservice trust {ref}`, or delete it",
    "stale_temp": "left by an interrupted save; `modelservice gc` removes it",
    "deleted_leftover": "`modelservice gc` (or `verify --repair`) finishes the delete; rebuild-index never "
                        "restores a deleted version",
    "no_file": "the status says saved but there is no file; save the model again",
    # problems (rebuild-index)
    "conflict": "the registry's row was kept; compare it with the sidecar and decide which is right",
    "refused": "the sidecar was not used; see the message",
    # notes
    "save_in_progress": None,
    "temp": None,
    "other": None,
    "kept": None,
    "present": None,
    "no_sidecars": None,
    # changes
    "completed": None,
    "restored": None,
    "cleared": None,
    "sidecar_rewritten": None,
    "removed": None,
    "added": None,
    "imported": None,
}


@dataclass(frozen=True)
class Finding:
    """One thing a maintenance command found or did.

    ``details`` carries what only some kinds have (an import's original
    reference and trust, a restored version's trust, ...).
    """

    kind: str
    message: str
    ref: str | None = None
    path: str | None = None
    bytes: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def advice(self) -> str | None:
        """What to do about it, or None."""
        advice = KINDS.get(self.kind)
        return advice.replace("{ref}", self.ref or "REF") if advice else None

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {"kind": self.kind, "ref": self.ref, "path": self.path, "message": self.message,
                "bytes": self.bytes, "advice": self.advice, **({"details": dict(self.details)} if self.details else {})}


@dataclass
class Report:
    """What one maintenance command found (``problems``, ``notes``) and did (``changes``).

    ``counts`` holds the command's totals (verify: ``rows``, ``files``,
    ``bytes_hashed``). With ``dry_run`` the changes were not made.
    """

    command: str
    dry_run: bool = False
    problems: list[Finding] = field(default_factory=list)
    changes: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def kinds(self) -> dict[str, int]:
        """How many problems of each kind."""
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        return counts

    def of(self, kind: str) -> list[Finding]:
        """The findings of ``kind`` (problems, then changes, then notes)."""
        return [f for f in (*self.problems, *self.changes, *self.notes) if f.kind == kind]

    def refs(self, kind: str) -> list[str]:
        """The version references of the findings of ``kind``."""
        return [f.ref for f in self.of(kind) if f.ref is not None]

    def paths(self, kind: str) -> list[str]:
        """The store paths of the findings of ``kind``."""
        return [f.path for f in self.of(kind) if f.path is not None]

    def total_bytes(self, kind: str) -> int:
        """The bytes of the findings of ``kind`` added up (gc: ``total_bytes("removed")`` is what it frees)."""
        return sum(int(f.bytes or 0) for f in self.of(kind))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``modelservice --json`` prints)."""
        return {"command": self.command, "ok": self.ok, "dry_run": self.dry_run, "counts": dict(self.counts),
                "problems": [f.to_dict() for f in self.problems], "changes": [f.to_dict() for f in self.changes],
                "notes": [f.to_dict() for f in self.notes]}
