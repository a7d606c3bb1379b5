"""The ``modelservice`` commands that look after a registry: ``verify``, ``gc``, ``rebuild-index``,
``export``, ``import`` and ``migrate`` (the logic lives in `jupyter_modelservice.maintenance`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import is_database_store
from ..formatting import format_bytes
from .common import Failure, db_type, echo, emit_json, open_service


def cmd_verify(args: argparse.Namespace) -> int:
    from .. import maintenance

    with open_service(args) as service:
        repaired = maintenance.repair(service, grace=args.grace) if args.repair else None
        report = maintenance.verify(service, grace=args.grace)
    if args.json:
        emit_json({**report.to_dict(), **({"repaired": repaired.to_dict()} if repaired is not None else {})})
        return 0 if report.ok else 1
    if repaired is not None:
        for item in [*repaired.changes, *repaired.notes]:
            echo(f"repaired: {item.message}")
    for problem in report.problems:
        echo(f"{problem.kind}: {problem.message}")
    for note in report.notes:
        echo(f"note: {note.message}")
    counts = report.counts
    summary = (f"{counts['rows']} rows, {counts['files']} files, {format_bytes(counts['bytes_hashed'])} hashed: "
               + ("OK" if report.ok else f"{len(report.problems)} problem(s) "
                  + ", ".join(f"{k}={n}" for k, n in sorted(report.kinds().items()))))
    echo(summary)
    if not report.ok and not args.repair and any(p.kind in ("incomplete_save", "missing_sidecar", "stale_sidecar")
                                                 for p in report.problems):
        echo("run `modelservice verify --repair` to finish interrupted saves and rewrite sidecars")
    for problem in report.problems:
        if problem.kind == "unverified":
            echo(f"check where {problem.ref} came from, then confirm it: modelservice trust {problem.ref}")
    return 0 if report.ok else 1


def cmd_gc(args: argparse.Namespace) -> int:
    from .. import maintenance

    with open_service(args) as service:
        report = maintenance.collect_garbage(service, dry_run=args.dry_run, grace=args.grace)
    if args.json:
        emit_json(report.to_dict())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for item in report.of("removed"):
        echo(f"{verb} {item.path} ({format_bytes(item.bytes)}): {item.message}")
    for item in report.of("kept"):
        echo(f"kept {item.path}: {item.message}")
    echo(f"{len(report.of('removed'))} file(s), {format_bytes(report.total_bytes('removed'))} "
         + ("would be freed (dry run)" if args.dry_run else "freed"))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from .. import maintenance

    with open_service(args, create=True) as service:
        report = maintenance.rebuild_index(service)
    if args.json:
        emit_json(report.to_dict())
        return 0 if report.ok else 1
    for item in report.of("added"):
        echo(f"restored {item.ref}" + (f" as unverified: check it, then `modelservice trust {item.ref}`"
                                       if item.details.get("trust") == "unverified" else " (signed with the team key)"))
    for item in report.of("conflict"):
        echo(f"conflict {item.ref}: {item.message}")
    for item in report.of("refused"):
        echo(f"refused {item.message}")
    for note in report.of("no_sidecars"):
        echo(note.message)
    echo(f"{len(report.of('added'))} version(s) restored ({len(report.of('unverified'))} unverified), "
         f"{len(report.of('present'))} already present, {len(report.of('conflict'))} conflict(s), "
         f"{len(report.of('refused'))} sidecar(s) refused")
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .. import maintenance

    with open_service(args) as service:
        manifest = maintenance.export_version(service, args.ref, args.archive, overwrite=args.force)
    if args.json:
        emit_json(manifest)
    else:
        echo(f"exported {manifest['model_id']}:{manifest['version']} ({manifest['file_format']}, "
             f"{format_bytes(manifest['bytes'])}, sha256 {manifest['sha256'][:12]}…) to {manifest['archive']}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .. import maintenance

    if not Path(args.archive).is_file():
        raise Failure(f"no archive at {args.archive}")
    with open_service(args, create=True) as service:
        report = maintenance.import_version(service, args.archive, model_id=args.as_id,
                                            as_new_version=args.as_new_version)
    if args.json:
        emit_json(report.to_dict())
    else:
        [imported] = report.of("imported")
        result = {**imported.details, "ref": imported.ref}
        how = ("" if result["kept_version"] else " (as a new version)" if args.as_new_version
               else f" (version {result['original'].rsplit(':', 1)[1]} was taken)")
        echo(f"imported {result['original']} as {result['ref']}{how}, sha256 verified")
        if result["trust"] == "unverified":
            echo(f"{result['ref']} is unverified: check where it came from, then "
                 f"`modelservice trust {result['ref']}`")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        from ..migrate import migrate_registry  # refuses a target that is the source itself
    except ImportError as err:
        raise Failure(f"this installation cannot migrate registries ({err})") from err
    from ..service import ModelService

    with open_service(args) as source:
        directory = args.copy_files or source.models_directory
        progress = None if args.json else _ProgressLine()
        # models kept in a registry database ("db://") are copied into the target's database
        copy_files = bool(args.copy_files) or is_database_store(directory)
        with ModelService(db_type(args.to), directory, db_url=args.to) as target:
            result = migrate_registry(source, target, copy_files=copy_files, progress=progress)
    if progress is not None and progress.shown:
        echo(err=True)
    if args.json:
        emit_json(result)
    else:
        for key, value in result.items():
            if isinstance(value, list):
                value = f"{len(value)}" + (f" ({', '.join(map(str, value[:10]))}{', …' if len(value) > 10 else ''})"
                                           if value else "")
            echo(f"{key}: {value}")
    return 0 if result["ok"] else 1


class _ProgressLine:
    """``progress(done, total)`` shown as one updating line on stderr."""

    shown = False

    def __call__(self, done: int, total: int) -> None:
        echo(f"\rmigrated {done}/{total}", end="", err=True)
        self.shown = True
